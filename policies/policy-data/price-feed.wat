;; price-feed: a PolicyData module that reads a price over HTTP (Proofgate core-module ABI v1,
;; gpu-backend/policy-data/README.md).
;; Input: {"url": "<price endpoint>"} as canonical JSON. It reads the secret "price_api_key", GETs the
;; url with header x-api-key: <secret>, and returns the first number in the response body, so
;; {"price": 1834.25} gives 1834.25. Host errors (unknown secret, host not allowed...) are returned
;; as the module's own error; a status other than 200 is an error.
(module
  (import "proofgate" "secrets_get" (func $secrets_get (param i32 i32) (result i64)))
  (import "proofgate" "http_fetch" (func $http_fetch (param i32 i32) (result i64)))
  (import "proofgate" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1 16)

  (data (i32.const 16) "\"url\":\"") ;; 7 bytes
  (data (i32.const 32) "price_api_key") ;; 13 bytes
  (data (i32.const 48) "{\"url\":\"") ;; 8 bytes
  (data (i32.const 64) "\",\"headers\":{\"x-api-key\":\"") ;; 26 bytes
  (data (i32.const 96) "\"}}") ;; 3 bytes
  (data (i32.const 112) "{\"ok\":\"") ;; 7 bytes
  (data (i32.const 128) "{\"ok\":{\"status\":200,") ;; 20 bytes
  (data (i32.const 160) "\"body\":\"") ;; 8 bytes
  (data (i32.const 176) "{\"ok\":") ;; 6 bytes
  (data (i32.const 192) "}") ;; 1 byte
  (data (i32.const 208) "{\"err\":\"input has no url\"}") ;; 26 bytes
  (data (i32.const 256) "{\"err\":\"price source did not answer 200\"}") ;; 41 bytes
  (data (i32.const 320) "{\"err\":\"no number in the response body\"}") ;; 40 bytes
  (data (i32.const 384) "fetching price") ;; 14 bytes

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

  ;; (ptr << 32) | len
  (func $pack (param $ptr i32) (param $len i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32)) (i64.extend_i32_u (local.get $len))))

  ;; 1 when the envelope at (ptr, len) is at least as long as the literal and starts with it.
  (func $starts_with (param $ptr i32) (param $len i32) (param $lit i32) (param $litLen i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $len) (local.get $litLen))
      (then (i32.const 0))
      (else (call $eq (local.get $ptr) (local.get $lit) (local.get $litLen)))))

  (func $is_digit (param $c i32) (result i32)
    (i32.lt_u (i32.sub (local.get $c) (i32.const 48)) (i32.const 10)))

  (func (export "run") (param $in i32) (param $inLen i32) (result i64)
    (local $at i32) (local $url i32) (local $urlLen i32) (local $end i32)
    (local $res i64) (local $rp i32) (local $rl i32) (local $key i32) (local $keyLen i32)
    (local $req i32) (local $p i32) (local $num i32)
    ;; The url: from after "url":" to the closing quote.
    (local.set $at (call $find (local.get $in) (local.get $inLen) (i32.const 16) (i32.const 7)))
    (if (i32.lt_s (local.get $at) (i32.const 0)) (then (return (call $pack (i32.const 208) (i32.const 26)))))
    (local.set $url (i32.add (i32.add (local.get $in) (local.get $at)) (i32.const 7)))
    (local.set $end (i32.add (local.get $in) (local.get $inLen)))
    (local.set $p (local.get $url))
    (block $stop
      (loop $next
        (br_if $stop (i32.ge_u (local.get $p) (local.get $end)))
        (br_if $stop (i32.eq (i32.load8_u (local.get $p)) (i32.const 34)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (local.set $urlLen (i32.sub (local.get $p) (local.get $url)))

    ;; The API key: {"ok":"<json-escaped value>"}; the escaped value goes into the request as is.
    (local.set $res (call $secrets_get (i32.const 32) (i32.const 13)))
    (local.set $rp (i32.wrap_i64 (i64.shr_u (local.get $res) (i64.const 32))))
    (local.set $rl (i32.wrap_i64 (local.get $res)))
    (if (i32.eqz (call $starts_with (local.get $rp) (local.get $rl) (i32.const 112) (i32.const 7)))
      (then (return (local.get $res))))
    (local.set $key (i32.add (local.get $rp) (i32.const 7)))
    (local.set $keyLen (i32.sub (local.get $rl) (i32.const 9)))

    ;; {"url":"<url>","headers":{"x-api-key":"<key>"}}
    (local.set $req (call $alloc (i32.add (i32.add (local.get $urlLen) (local.get $keyLen)) (i32.const 37))))
    (global.set $out (local.get $req))
    (call $emit (i32.const 48) (i32.const 8))
    (call $emit (local.get $url) (local.get $urlLen))
    (call $emit (i32.const 64) (i32.const 26))
    (call $emit (local.get $key) (local.get $keyLen))
    (call $emit (i32.const 96) (i32.const 3))
    (call $log (i32.const 384) (i32.const 14))
    (local.set $res (call $http_fetch (local.get $req) (i32.sub (global.get $out) (local.get $req))))
    (local.set $rp (i32.wrap_i64 (i64.shr_u (local.get $res) (i64.const 32))))
    (local.set $rl (i32.wrap_i64 (local.get $res)))
    (if (i32.eqz (call $starts_with (local.get $rp) (local.get $rl) (i32.const 176) (i32.const 6)))
      (then (return (local.get $res))))
    (if (i32.eqz (call $starts_with (local.get $rp) (local.get $rl) (i32.const 128) (i32.const 20)))
      (then (return (call $pack (i32.const 256) (i32.const 41)))))

    ;; The first run of digits and dots in the body.
    (local.set $at (call $find (local.get $rp) (local.get $rl) (i32.const 160) (i32.const 8)))
    (if (i32.lt_s (local.get $at) (i32.const 0)) (then (return (call $pack (i32.const 320) (i32.const 40)))))
    (local.set $p (i32.add (i32.add (local.get $rp) (local.get $at)) (i32.const 8)))
    (local.set $end (i32.add (local.get $rp) (local.get $rl)))
    (block $found
      (loop $skip
        (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (call $pack (i32.const 320) (i32.const 40)))))
        (br_if $found (call $is_digit (i32.load8_u (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $skip)))
    (local.set $num (local.get $p))
    (block $stop
      (loop $next
        (br_if $stop (i32.ge_u (local.get $p) (local.get $end)))
        (br_if $stop (i32.and
          (i32.eqz (call $is_digit (i32.load8_u (local.get $p))))
          (i32.ne (i32.load8_u (local.get $p)) (i32.const 46))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))

    ;; {"ok":<number>}
    (local.set $req (call $alloc (i32.add (i32.sub (local.get $p) (local.get $num)) (i32.const 7))))
    (global.set $out (local.get $req))
    (call $emit (i32.const 176) (i32.const 6))
    (call $emit (local.get $num) (i32.sub (local.get $p) (local.get $num)))
    (call $emit (i32.const 192) (i32.const 1))
    (call $pack (local.get $req) (i32.sub (global.get $out) (local.get $req)))))
