;; status-v01: a newton:provider@0.1.0 PolicyData component written as a core module against the
;; component model's canonical ABI, then wrapped into a component (build.ts: wasm-tools component
;; embed + new, through jco). Its input is a JSON string, a URL: it GETs it through the host's
;; http.fetch and returns {"v01":{"status":<status>,"bytes":<body length>}}, or the host's error.
(module
  ;; fetch(url ptr/len, method ptr/len, headers ptr/len, body option (tag, ptr, len), return area)
  (import "newton:provider/http@0.1.0" "fetch" (func $fetch (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)

  (data (i32.const 16) "GET") ;; 3 bytes
  (data (i32.const 32) "{\"v01\":{\"status\":") ;; 17 bytes
  (data (i32.const 64) ",\"bytes\":") ;; 9 bytes
  (data (i32.const 80) "}}") ;; 2 bytes
  (data (i32.const 96) "input must be a JSON string") ;; 27 bytes

  ;; [1024, +24): fetch's return area; [1056, +12): run's return area; [1088, +128): the output.
  (global $heap (mut i32) (i32.const 4096))

  ;; Bump allocator for the host's lists and strings (never frees; one run per instance).
  (func $realloc (export "cabi_realloc") (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
    (local $ptr i32) (local $end i32)
    (local.set $ptr (i32.and (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
                             (i32.sub (i32.const 0) (local.get $align))))
    (local.set $end (i32.add (local.get $ptr) (local.get $size)))
    (block $fits
      (br_if $fits (i32.le_u (local.get $end) (i32.mul (memory.size) (i32.const 65536))))
      (if (i32.eq (memory.grow (i32.add (i32.shr_u (i32.sub (local.get $end) (i32.mul (memory.size) (i32.const 65536))) (i32.const 16)) (i32.const 1)))
                  (i32.const -1))
        (then unreachable)))
    (global.set $heap (local.get $end))
    (local.get $ptr))

  ;; Writes the decimal digits of $n at $at; returns the end.
  (func $decimal (param $n i32) (param $at i32) (result i32)
    (local $digits i32) (local $m i32) (local $end i32)
    (local.set $m (local.get $n))
    (local.set $digits (i32.const 1))
    (block $done (loop $count
      (br_if $done (i32.lt_u (local.get $m) (i32.const 10)))
      (local.set $m (i32.div_u (local.get $m) (i32.const 10)))
      (local.set $digits (i32.add (local.get $digits) (i32.const 1)))
      (br $count)))
    (local.set $end (i32.add (local.get $at) (local.get $digits)))
    (local.set $m (local.get $end))
    (loop $write
      (local.set $m (i32.sub (local.get $m) (i32.const 1)))
      (i32.store8 (local.get $m) (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
      (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
      (br_if $write (i32.gt_u (local.get $m) (local.get $at))))
    (local.get $end))

  (func (export "run") (param $ptr i32) (param $len i32) (result i32)
    (local $out i32)
    ;; The input is a JSON string: the URL is what lies between its quotes.
    (if (i32.or (i32.lt_u (local.get $len) (i32.const 2)) (i32.ne (i32.load8_u (local.get $ptr)) (i32.const 34)))
      (then
        (i32.store8 (i32.const 1056) (i32.const 1))
        (i32.store (i32.const 1060) (i32.const 96))
        (i32.store (i32.const 1064) (i32.const 27))
        (return (i32.const 1056))))
    (call $fetch
      (i32.add (local.get $ptr) (i32.const 1)) (i32.sub (local.get $len) (i32.const 2))
      (i32.const 16) (i32.const 3)
      (i32.const 0) (i32.const 0)
      (i32.const 0) (i32.const 0) (i32.const 0)
      (i32.const 1024))
    (if (i32.load8_u (i32.const 1024))
      (then
        ;; err(message): hand the host's message back as run's error.
        (i32.store8 (i32.const 1056) (i32.const 1))
        (i32.store (i32.const 1060) (i32.load (i32.const 1028)))
        (i32.store (i32.const 1064) (i32.load (i32.const 1032)))
        (return (i32.const 1056))))
    (memory.copy (i32.const 1088) (i32.const 32) (i32.const 17))
    (local.set $out (call $decimal (i32.load16_u (i32.const 1028)) (i32.const 1105)))
    (memory.copy (local.get $out) (i32.const 64) (i32.const 9))
    (local.set $out (call $decimal (i32.load (i32.const 1044)) (i32.add (local.get $out) (i32.const 9))))
    (memory.copy (local.get $out) (i32.const 80) (i32.const 2))
    (local.set $out (i32.add (local.get $out) (i32.const 2)))
    (i32.store8 (i32.const 1056) (i32.const 0))
    (i32.store (i32.const 1060) (i32.const 1088))
    (i32.store (i32.const 1064) (i32.sub (local.get $out) (i32.const 1088)))
    (i32.const 1056))
)
