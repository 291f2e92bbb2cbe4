;; intent-risk: a pure PolicyData module (Proofgate core-module ABI v1, gpu-backend/policy-data/README.md).
;; Input: the intent as canonical JSON. Output:
;;   {"blocked": [addresses the policy must refuse], "maxValueWei": "<decimal>",
;;    "calldataBytes": <bytes of the intent's "data" hex>, "inputBytes": <bytes of the input>}
;; It imports nothing: its output depends on its input only.
(module
  (memory (export "memory") 1 16)

  ;; [0, 16) is scratch for decimal digits; literals follow; the heap starts at 1024.
  (data (i32.const 16) "{\"ok\":{\"blocked\":[\"0x000000000000000000000000000000000000dead\",\"0x1111111111111111111111111111111111111111\"],\"calldataBytes\":") ;; 125 bytes
  (data (i32.const 256) ",\"inputBytes\":") ;; 14 bytes
  (data (i32.const 288) ",\"maxValueWei\":\"1000000000000000000\"}}") ;; 38 bytes
  (data (i32.const 352) "\"data\":\"0x") ;; 10 bytes

  (global $heap (mut i32) (i32.const 1024))
  (global $out (mut i32) (i32.const 0))

  ;; Bump allocator, 8-byte aligned; grows memory as needed and returns 0 once the maximum is reached.
  (func $alloc (export "alloc") (param $len i32) (result i32)
    (local $ptr i32) (local $end i32) (local $pages i32)
    (local.set $ptr (i32.and (i32.add (global.get $heap) (i32.const 7)) (i32.const -8)))
    (local.set $end (i32.add (local.get $ptr) (local.get $len)))
    (if (i32.lt_u (local.get $end) (local.get $ptr)) (then (return (i32.const 0))))
    (local.set $pages (i32.sub (i32.shr_u (i32.add (local.get $end) (i32.const 65535)) (i32.const 16)) (memory.size)))
    (if (i32.gt_s (local.get $pages) (i32.const 0))
      (then (if (i32.eq (memory.grow (local.get $pages)) (i32.const -1)) (then (return (i32.const 0))))))
    (global.set $heap (local.get $end))
    (local.get $ptr))

  ;; 1 when the n bytes at a and b are equal.
  (func $eq (param $a i32) (param $b i32) (param $n i32) (result i32)
    (block $differ
      (loop $next
        (if (i32.eqz (local.get $n)) (then (return (i32.const 1))))
        (br_if $differ (i32.ne (i32.load8_u (local.get $a)) (i32.load8_u (local.get $b))))
        (local.set $a (i32.add (local.get $a) (i32.const 1)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (i32.const 0))

  ;; Offset of the first occurrence of needle in hay, or -1.
  (func $find (param $hay i32) (param $hayLen i32) (param $needle i32) (param $needleLen i32) (result i32)
    (local $i i32)
    (block $none
      (loop $next
        (br_if $none (i32.gt_s (local.get $needleLen) (i32.sub (local.get $hayLen) (local.get $i))))
        (if (call $eq (i32.add (local.get $hay) (local.get $i)) (local.get $needle) (local.get $needleLen))
          (then (return (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const -1))

  ;; Appends len bytes from src to the output.
  (func $emit (param $src i32) (param $len i32)
    (memory.copy (global.get $out) (local.get $src) (local.get $len))
    (global.set $out (i32.add (global.get $out) (local.get $len))))

  ;; Appends n in decimal.
  (func $emit_u32 (param $n i32)
    (local $p i32)
    (local.set $p (i32.const 16))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
      (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
      (br_if $digit (local.get $n)))
    (call $emit (local.get $p) (i32.sub (i32.const 16) (local.get $p))))

  (func (export "run") (param $in i32) (param $len i32) (result i64)
    (local $start i32) (local $at i32) (local $p i32) (local $end i32) (local $hex i32)
    ;; Hex digits after "data":"0x up to the closing quote; canonical JSON has no whitespace to skip.
    (local.set $at (call $find (local.get $in) (local.get $len) (i32.const 352) (i32.const 10)))
    (if (i32.ge_s (local.get $at) (i32.const 0))
      (then
        (local.set $p (i32.add (i32.add (local.get $in) (local.get $at)) (i32.const 10)))
        (local.set $end (i32.add (local.get $in) (local.get $len)))
        (block $stop
          (loop $next
            (br_if $stop (i32.ge_u (local.get $p) (local.get $end)))
            (br_if $stop (i32.eq (i32.load8_u (local.get $p)) (i32.const 34)))
            (local.set $hex (i32.add (local.get $hex) (i32.const 1)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $next)))))
    (local.set $start (call $alloc (i32.const 256)))
    (global.set $out (local.get $start))
    (call $emit (i32.const 16) (i32.const 125))
    (call $emit_u32 (i32.shr_u (local.get $hex) (i32.const 1)))
    (call $emit (i32.const 256) (i32.const 14))
    (call $emit_u32 (local.get $len))
    (call $emit (i32.const 288) (i32.const 38))
    (i64.or
      (i64.shl (i64.extend_i32_u (local.get $start)) (i64.const 32))
      (i64.extend_i32_u (i32.sub (global.get $out) (local.get $start))))))
