import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { keccak256, stringToBytes } from 'viem';
import { CanonicalJsonError, canonicalJson } from '../../../core/canonical-json';
import { computePolicyDataHash } from '../../../core/attestation';

describe('canonicalJson', () => {
  it('sorts keys recursively and drops whitespace', () => {
    const value = { b: [3, { z: 1, a: null }], a: 'x', c: { y: true, x: false } };
    assert.equal(canonicalJson(value), '{"a":"x","b":[3,{"a":null,"z":1}],"c":{"x":false,"y":true}}');
  });

  it('is independent of key insertion order, so the PolicyData hash is too', () => {
    const one = { limits: { daily: 5, perTx: 1.5 }, sanctioned: ['0xabc'] };
    const two = { sanctioned: ['0xabc'], limits: { perTx: 1.5, daily: 5 } };
    assert.equal(canonicalJson(one), canonicalJson(two));
    assert.equal(computePolicyDataHash(one), keccak256(stringToBytes('{"limits":{"daily":5,"perTx":1.5},"sanctioned":["0xabc"]}')));
  });

  it('orders keys by code point and serializes numbers and strings like ECMAScript', () => {
    // U+FF61 sorts before U+1F600 by code point although its UTF-16 unit is larger.
    assert.equal(canonicalJson({ '\u{1F600}': 1, '\uFF61': 2, a: 3 }), '{"a":3,"\uFF61":2,"\u{1F600}":1}');
    assert.equal(canonicalJson([1e21, 0.1, -0, 'é\n"']), '[1e+21,0.1,0,"é\\n\\""]');
    assert.equal(canonicalJson({ a: undefined, b: 1 }), '{"b":1}');
  });

  describe('refuses values without a JSON form', () => {
    const bad: [string, unknown][] = [
      ['NaN', Number.NaN],
      ['Infinity', Infinity],
      ['a bigint', 1n],
      ['a function', () => 1],
      ['a Date', new Date(0)],
      ['a Uint8Array', new Uint8Array(1)],
      ['undefined in an array', [undefined]],
    ];
    for (const [name, value] of bad) {
      it(name, () => {
        assert.throws(() => canonicalJson(value), CanonicalJsonError);
      });
    }
  });
});
