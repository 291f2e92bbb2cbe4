import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { compilePolicy, evaluate, query } from '../../../core/rego/index';

/** Base64url without padding. */
function b64url(b: Uint8Array): string {
  return Buffer.from(b).toString('base64url');
}

/** Evaluates a single expression (`x := <expr>`) and returns x. */
function value(expr: string, opts: Parameters<typeof query>[2] = {}): unknown {
  const rows = query(compilePolicy({}), `x := ${expr}`, opts);
  return rows.length ? rows[0]!.x : undefined;
}

describe('io.jwt with real keys', () => {
  it('signs and verifies ES256 with a fresh P-256 key; a tampered token fails', () => {
    const secret = p256.utils.randomSecretKey();
    const pub = p256.getPublicKey(secret, false);
    const jwk = { kty: 'EC', crv: 'P-256', x: b64url(pub.slice(1, 33)), y: b64url(pub.slice(33)) };
    const policy = compilePolicy({
      'j.rego': `package j
token := io.jwt.encode_sign({"alg": "ES256", "typ": "JWT"}, {"sub": "alice", "exp": 4102444800}, input.priv)
verified := io.jwt.decode_verify(token, {"cert": json.marshal(input.pub), "time": 1700000000000000000})
tampered := io.jwt.verify_es256(concat(".", [split(token, ".")[0], base64url.encode_no_pad("{\\"sub\\":\\"mallory\\"}"), split(token, ".")[2]]), json.marshal(input.pub))
`,
    });
    const input = { priv: { ...jwk, d: b64url(secret) }, pub: jwk };
    const [ok, header, payload] = evaluate(policy, 'data.j.verified', { input }) as [boolean, unknown, unknown];
    assert.equal(ok, true);
    assert.deepEqual(header, { alg: 'ES256', typ: 'JWT' });
    assert.deepEqual(payload, { sub: 'alice', exp: 4102444800 });
    assert.equal(evaluate(policy, 'data.j.tampered', { input }), false);
  });

  it('verifies EdDSA signatures made outside the engine', () => {
    const secret = ed25519.utils.randomSecretKey();
    const pub = ed25519.getPublicKey(secret);
    const enc = (o: unknown) => b64url(new TextEncoder().encode(JSON.stringify(o)));
    const signingInput = `${enc({ alg: 'EdDSA' })}.${enc({ iss: 'proofgate' })}`;
    const token = `${signingInput}.${b64url(ed25519.sign(new TextEncoder().encode(signingInput), secret))}`;
    const jwk = JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: b64url(pub) });
    assert.equal(value(`io.jwt.verify_eddsa(${JSON.stringify(token)}, ${JSON.stringify(jwk)})`), true);
    const other = JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: b64url(ed25519.getPublicKey(ed25519.utils.randomSecretKey())) });
    assert.equal(value(`io.jwt.verify_eddsa(${JSON.stringify(token)}, ${JSON.stringify(other)})`), false);
  });

  it('round-trips HS256 and rejects the wrong secret', () => {
    const token = value('io.jwt.encode_sign({"alg": "HS256"}, {"n": 1}, {"kty": "oct", "k": "c2VjcmV0"})') as string;
    assert.equal(value(`io.jwt.verify_hs256(${JSON.stringify(token)}, "secret")`), true);
    assert.equal(value(`io.jwt.verify_hs256(${JSON.stringify(token)}, "wrong")`), false);
  });
});

describe('library builtins', () => {
  it('hashes and HMACs', () => {
    assert.equal(value('crypto.sha256("abc")'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.equal(
      value('crypto.hmac.sha256("The quick brown fox jumps over the lazy dog", "key")'),
      'f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8',
    );
  });

  it('parses and formats time without a clock', () => {
    assert.equal(value('time.parse_rfc3339_ns("2024-01-14T18:33:41.593912Z")'), 1705257221593912000n);
    assert.equal(value('time.format([1705257221593912000, "UTC", "2006-01-02 15:04"])'), '2024-01-14 18:33');
    assert.equal(value('time.parse_duration_ns("1h30m")'), 5400000000000);
  });

  describe('matches CIDRs, globs, regexes and units', () => {
    const cases: [string, unknown][] = [
      ['net.cidr_contains("10.0.0.0/8", "10.1.2.3")', true],
      ['net.cidr_merge(["192.0.2.0/25", "192.0.2.128/25"])', new Set(['192.0.2.0/24'])],
      ['glob.match("*.example.com", ["."], "api.example.com")', true],
      ['glob.match("*.example.com", ["."], "a.b.example.com")', false],
      [
        'regex.find_all_string_submatch_n(`(\\w+)@(\\w+)`, "a@b c@d", -1)',
        [
          ['a@b', 'a', 'b'],
          ['c@d', 'c', 'd'],
        ],
      ],
      ['units.parse_bytes("1KiB")', 1024],
      ['semver.compare("1.2.3", "1.10.0")', -1],
    ];
    for (const [expr, expected] of cases) {
      it(expr, () => {
        assert.deepEqual(value(expr), expected);
      });
    }
  });

  it('takes randomness only from the context seed', () => {
    const a = value('rand.intn("k", 1000)', { context: { seed: 'task-1' } });
    assert.equal(value('rand.intn("k", 1000)', { context: { seed: 'task-1' } }), a);
    assert.equal(value('rand.intn("k", 1000)'), undefined);
  });
});
