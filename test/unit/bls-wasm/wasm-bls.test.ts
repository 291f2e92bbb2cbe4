import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { bls12_381 } from '@noble/curves/bls12-381.js';
import {
  aggregatePublicKeys as nobleAggregatePublicKeys,
  aggregateSignatures as nobleAggregateSignatures,
  BlsKeyError,
  BlsSignatureError,
  decodePublicKey,
  decodeSignature,
  generateKeyPair,
  getPublicKey,
  signMessage,
  verifySignature,
  type BlsKeyPair,
} from '../../../core/attestation';
import { compileBlsWasm, loadWasmBls } from '../../../bls-wasm/node';
import { createWasmBls, type WasmBls } from '../../../bls-wasm';

// Cross-check of the WebAssembly BLS path (bls-wasm, herumi mcl from bls-eth-wasm) against
// core/attestation (@noble/curves): the same inputs must be accepted and refused alike. Keys and
// messages are random; SEED (printed on failure) reproduces a run.

const SEED = process.env.BLS_WASM_TEST_SEED ?? randomBytes(16).toString('hex');
const why = (what: string): string => `${what} (BLS_WASM_TEST_SEED=${SEED})`;
const Fp = bls12_381.fields.Fp;
const Fp2 = bls12_381.fields.Fp2;
const P = Fp.ORDER;

function bytesOf(label: string, i: number, length = 32): Uint8Array {
  const out = new Uint8Array(length);
  for (let off = 0, block = 0; off < length; off += 32, block++) {
    out.set(
      createHash('sha256')
        .update(`${SEED}/${label}/${i}/${block}`)
        .digest()
        .subarray(0, Math.min(32, length - off)),
      off,
    );
  }
  return out;
}

const keyPair = (i: number): BlsKeyPair => generateKeyPair(bytesOf('key', i));

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  out[bit >> 3]! ^= 0x80 >> (bit & 7);
  return out;
}

function be(x: bigint, length = 48): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = length - 1; i >= 0; i--, x >>= 8n) out[i] = Number(x & 0xffn);
  return out;
}

/** Compressed G1 encoding (ZCash flags) of any affine point, valid or not. */
function encodeG1(x: bigint, y: bigint): Uint8Array {
  const out = be(x);
  out[0]! |= 0x80 | (y > (P - 1n) / 2n ? 0x20 : 0);
  return out;
}

/** Compressed G2 encoding (x.c1 then x.c0, ZCash flags) of any affine point. */
function encodeG2(x: { c0: bigint; c1: bigint }, y: { c0: bigint; c1: bigint }): Uint8Array {
  const out = new Uint8Array(96);
  out.set(be(x.c1), 0);
  out.set(be(x.c0), 48);
  const big = y.c1 !== 0n ? y.c1 > (P - 1n) / 2n : y.c0 > (P - 1n) / 2n;
  out[0]! |= 0x80 | (big ? 0x20 : 0);
  return out;
}

/** Points on E(Fp) outside the r-order subgroup, and x values with no point at all. */
function g1Outliers(): { offSubgroup: Uint8Array; offCurve: Uint8Array } {
  let offSubgroup: Uint8Array | undefined;
  let offCurve: Uint8Array | undefined;
  for (let x = 1n; !(offSubgroup && offCurve); x++) {
    const rhs = Fp.add(Fp.mul(Fp.sqr(x), x), 4n);
    let y: bigint | undefined;
    try {
      y = Fp.sqrt(rhs);
    } catch {
      y = undefined;
    }
    if (y === undefined || Fp.sqr(y) !== rhs) {
      offCurve ??= encodeG1(x, 0n);
      continue;
    }
    if (!bls12_381.G1.Point.fromAffine({ x, y }).isTorsionFree()) offSubgroup ??= encodeG1(x, y);
  }
  return { offSubgroup, offCurve };
}

function g2Outliers(): { offSubgroup: Uint8Array; offCurve: Uint8Array } {
  const b = Fp2.fromBigTuple([4n, 4n]);
  let offSubgroup: Uint8Array | undefined;
  let offCurve: Uint8Array | undefined;
  for (let i = 1n; !(offSubgroup && offCurve); i++) {
    const x = Fp2.fromBigTuple([i, 1n]);
    const rhs = Fp2.add(Fp2.mul(Fp2.sqr(x), x), b);
    let y: { c0: bigint; c1: bigint } | undefined;
    try {
      y = Fp2.sqrt(rhs);
    } catch {
      y = undefined;
    }
    if (y === undefined || !Fp2.eql(Fp2.sqr(y), rhs)) {
      offCurve ??= encodeG2(x, { c0: 0n, c1: 0n });
      continue;
    }
    if (!bls12_381.G2.Point.fromAffine({ x, y }).isTorsionFree()) offSubgroup ??= encodeG2(x, y);
  }
  return { offSubgroup, offCurve };
}

const nobleKeyOk = (bytes: Uint8Array): boolean => {
  try {
    decodePublicKey(bytes);
    return true;
  } catch {
    return false;
  }
};
const nobleSigOk = (bytes: Uint8Array): boolean => {
  try {
    decodeSignature(bytes);
    return true;
  } catch {
    return false;
  }
};
const wasmKeyOk = (bls: WasmBls, bytes: Uint8Array): boolean => {
  try {
    bls.deserializePublicKey(bytes);
    return true;
  } catch (err) {
    assert.ok(err instanceof BlsKeyError && err.code === 'invalid_public_key', `unexpected error ${String(err)}`);
    return false;
  }
};

/** Malformed public keys, each refused by noble's decodePublicKey. */
function badPublicKeys(valid: Uint8Array): [string, Uint8Array][] {
  const { offSubgroup, offCurve } = g1Outliers();
  const x = BigInt(`0x${Buffer.from(valid).toString('hex')}`) & ((1n << 381n) - 1n);
  const xPlusP = be(x + P);
  xPlusP[0]! |= valid[0]! & 0xe0;
  const infinity = new Uint8Array(48);
  infinity[0] = 0xc0;
  const infinityWithSign = infinity.slice();
  infinityWithSign[0] = 0xe0;
  const infinityWithX = infinity.slice();
  infinityWithX[47] = 1;
  const uncompressedFlag = valid.slice();
  uncompressedFlag[0]! &= 0x7f;
  const infinityFlagOnPoint = valid.slice();
  infinityFlagOnPoint[0]! |= 0x40;
  const cases: [string, Uint8Array][] = [
    ['infinity', infinity],
    ['infinity with the sign bit', infinityWithSign],
    ['infinity flag with a non-zero x', infinityWithX],
    ['infinity flag on a valid x', infinityFlagOnPoint],
    ['compression flag cleared', uncompressedFlag],
    ['all zero', new Uint8Array(48)],
    ['x not on the curve', offCurve],
    ['point outside the prime-order subgroup', offSubgroup],
    ['too short', valid.subarray(0, 47)],
    ['too long', Uint8Array.of(...valid, 0)],
    ['uncompressed length', new Uint8Array(96)],
    ['empty', new Uint8Array(0)],
  ];
  if (x + P < 1n << 381n) cases.push(['x + p (non-canonical field element)', xPlusP]);
  return cases;
}

function badSignatures(valid: Uint8Array): [string, Uint8Array][] {
  const { offSubgroup, offCurve } = g2Outliers();
  const infinity = new Uint8Array(96);
  infinity[0] = 0xc0;
  const infinityWithBits = infinity.slice();
  infinityWithBits[95] = 1;
  const uncompressedFlag = valid.slice();
  uncompressedFlag[0]! &= 0x7f;
  const xc0PlusP = valid.slice();
  xc0PlusP.set(be(BigInt(`0x${Buffer.from(valid.subarray(48)).toString('hex')}`) + P, 48).slice(-48), 48);
  return [
    ['infinity', infinity],
    ['infinity flag with a non-zero x', infinityWithBits],
    ['compression flag cleared', uncompressedFlag],
    ['all zero', new Uint8Array(96)],
    ['x not on the curve', offCurve],
    ['point outside the prime-order subgroup', offSubgroup],
    ['too short', valid.subarray(0, 95)],
    ['too long', Uint8Array.of(...valid, 0)],
    ['x.c0 + p (non-canonical field element)', xc0PlusP],
  ];
}

describe(`bls-wasm cross-check against core/attestation (seed ${SEED})`, () => {
  let bls: WasmBls;
  const SIGNERS = 40;
  let keys: BlsKeyPair[];
  let message: Uint8Array;
  let signatures: Uint8Array[];
  let aggregate: Uint8Array;

  before(async () => {
    bls = await loadWasmBls();
    keys = Array.from({ length: SIGNERS + 5 }, (_, i) => keyPair(i));
    message = bytesOf('message', 0);
    signatures = keys.slice(0, SIGNERS).map((k) => signMessage(k.secretKey, message));
    aggregate = nobleAggregateSignatures(signatures);
  });

  it('verifies the Ethereum consensus-spec sign vectors (same ciphersuite)', () => {
    const vectors = [
      [
        '263dbd792f5b1be47ed85f8938c0f29586af0d3ac7b977f21c278fe1462040e3',
        '00'.repeat(32),
        'b6ed936746e01f8ecf281f020953fbf1f01debd5657c4a383940b020b26507f6076334f91e2366c96e9ab279fb5158090352ea1c5b0c9274504f4f0e7053af24802e51e4568d164fe986834f41e55c8e850ce1f98458c0cfc9ab380b55285a55',
      ],
      [
        '328388aff0d4a5b7dc9205abd374e7e98f3cd9f3418edb4eafda5fb16473d216',
        '56'.repeat(32),
        'a4efa926610b8bd1c8330c918b7a5e9bf374e53435ef8b7ec186abf62e1b1f65aeaaeb365677ac1d1172a1f5b44b4e6d022c252c58486c0a759fbdc7de15a756acc4d343064035667a594b4c2a6f0b0b421975977f297dba63ee2f63ffe47bb6',
      ],
    ] as const;
    for (const [sk, msg, sig] of vectors) {
      const pk = getPublicKey(Buffer.from(sk, 'hex'));
      assert.equal(bls.verify(pk, Buffer.from(msg, 'hex'), Buffer.from(sig, 'hex')), true);
      assert.equal(bls.verify(pk, Buffer.from(msg.replace(/^../, 'ff'), 'hex'), Buffer.from(sig, 'hex')), false);
    }
  });

  it('single signatures: valid, flipped message byte, wrong key, flipped signature bit agree with noble', () => {
    for (const [i, length] of [0, 1, 32, 33, 100, 1000, 40_000].entries()) {
      const msg = bytesOf('single', i, length);
      const { secretKey, publicKey } = keys[i]!;
      const sig = signMessage(secretKey, msg);
      const cases: [string, Uint8Array, Uint8Array, Uint8Array][] = [
        ['valid', publicKey, msg, sig],
        ['wrong key', keys[i + 1]!.publicKey, msg, sig],
        ['signature bit flipped', publicKey, msg, flipBit(sig, 8 * 50 + (i % 8))],
        ['signature sign bit flipped', publicKey, msg, flipBit(sig, 2)],
      ];
      if (length > 0) cases.push(['message byte flipped', publicKey, flipBit(msg, 8 * (i % length)), sig]);
      else cases.push(['message extended', publicKey, Uint8Array.of(0), sig]);
      for (const [what, pk, m, s] of cases) {
        const expected = verifySignature(pk, m, s);
        assert.equal(expected, what === 'valid', why(`noble, ${what}, ${length}-byte message`));
        assert.equal(bls.verify(pk, m, s), expected, why(`wasm (bytes), ${what}, ${length}-byte message`));
        if (nobleKeyOk(pk)) assert.equal(bls.verify(bls.deserializePublicKey(pk), m, s), expected, why(`wasm (handle), ${what}`));
      }
    }
  });

  it(`aggregates of ${SIGNERS} signers: valid and tampered cases agree with noble`, () => {
    const pks = keys.slice(0, SIGNERS).map((k) => k.publicKey);
    const outsider = keys[SIGNERS]!.publicKey;
    const swapped = pks.slice();
    swapped[7] = outsider; // a non-signer's key in place of a signer's
    const cases: [string, Uint8Array[], Uint8Array, Uint8Array][] = [
      ['valid', pks, message, aggregate],
      ['valid, keys in another order', [...pks].reverse(), message, aggregate],
      ['message byte flipped', pks, flipBit(message, 77), aggregate],
      ['one signer missing', pks.slice(1), message, aggregate],
      ['one extra signer', [...pks, outsider], message, aggregate],
      ['a signer key swapped for a non-signer', swapped, message, aggregate],
      ['a signer counted twice', [...pks.slice(1), pks[2]!], message, aggregate],
      ['aggregate missing one signature', pks, message, nobleAggregateSignatures(signatures.slice(1))],
      [
        'one signature over another message',
        pks,
        message,
        nobleAggregateSignatures([...signatures.slice(1), signMessage(keys[0]!.secretKey, flipBit(message, 3))]),
      ],
    ];
    for (const [what, group, msg, sig] of cases) {
      const expected = verifySignature(nobleAggregatePublicKeys(group), msg, sig);
      assert.equal(expected, what.startsWith('valid'), why(`noble, ${what}`));
      assert.equal(bls.verifyAggregate(group, msg, sig), expected, why(`wasm verifyAggregate (bytes), ${what}`));
      const handles = group.map((pk) => bls.deserializePublicKey(pk));
      assert.equal(bls.verifyAggregate(handles, msg, sig), expected, why(`wasm verifyAggregate (handles), ${what}`));
      assert.equal(bls.verify(bls.aggregatePublicKeys(handles), msg, sig), expected, why(`wasm aggregatePublicKeys + verify, ${what}`));
    }
  });

  it('encodes keys and aggregates byte-for-byte like noble', () => {
    const pks = keys.slice(0, SIGNERS).map((k) => k.publicKey);
    for (const pk of pks.slice(0, 5)) assert.deepEqual(bls.serializePublicKey(bls.deserializePublicKey(pk)), pk);
    assert.deepEqual(bls.serializePublicKey(bls.aggregatePublicKeys(pks)), nobleAggregatePublicKeys(pks).toBytes(true));
    assert.deepEqual(bls.aggregateSignatures(signatures), aggregate);
    assert.equal(bls.isValidSignature(aggregate), true);
  });

  it('refuses malformed, off-curve, off-subgroup and identity public keys like noble', () => {
    const valid = keys[0]!.publicKey;
    const sig = signatures[0]!;
    for (const [what, bad] of badPublicKeys(valid)) {
      assert.equal(nobleKeyOk(bad), false, `noble accepts ${what}`);
      assert.equal(wasmKeyOk(bls, bad), false, `wasm accepts the public key: ${what}`);
      assert.equal(bls.verify(bad, message, sig), false, `wasm verify with ${what}`);
      assert.equal(bls.verifyAggregate([...keys.slice(0, SIGNERS).map((k) => k.publicKey), bad], message, aggregate), false, what);
      assert.throws(() => bls.aggregatePublicKeys([valid, bad]), BlsKeyError, what);
    }
  });

  it('refuses malformed, off-curve, off-subgroup and identity signatures like noble', () => {
    const pk = keys[0]!.publicKey;
    for (const [what, bad] of badSignatures(signatures[0]!)) {
      assert.equal(nobleSigOk(bad), false, `noble accepts ${what}`);
      assert.equal(bls.isValidSignature(bad), false, `wasm accepts the signature: ${what}`);
      assert.equal(verifySignature(pk, message, bad), false, what);
      assert.equal(bls.verify(pk, message, bad), false, `wasm verify with ${what}`);
      assert.throws(() => bls.aggregateSignatures([signatures[0]!, bad]), BlsSignatureError, what);
    }
  });

  it('never accepts an identity aggregate key (pk + (-pk)), nor empty key lists', () => {
    const pk = decodePublicKey(keys[0]!.publicKey);
    const negated = pk.negate().toBytes(true);
    assert.equal(nobleKeyOk(negated), true);
    const group = [keys[0]!.publicKey, negated];
    assert.equal(nobleAggregatePublicKeys(group).is0(), true);
    const infinitySig = new Uint8Array(96);
    infinitySig[0] = 0xc0;
    for (const sig of [signatures[0]!, aggregate, infinitySig]) {
      assert.equal(verifySignature(nobleAggregatePublicKeys(group), message, sig), false);
      assert.equal(bls.verifyAggregate(group, message, sig), false);
      assert.equal(bls.verify(bls.aggregatePublicKeys(group), message, sig), false);
    }
    assert.equal(bls.verifyAggregate([], message, aggregate), false);
    assert.throws(() => bls.aggregatePublicKeys([]), BlsKeyError);
    assert.throws(() => bls.aggregateSignatures([]), BlsSignatureError);
    assert.throws(() => bls.aggregateSignatures([signatures[0]!, decodeSignature(signatures[0]!).negate().toBytes(true)]), BlsSignatureError);
  });

  it('agrees with noble on random bit flips and random bytes (key and signature decoding)', () => {
    const pk = keys[3]!.publicKey;
    const sig = signatures[3]!;
    for (let i = 0; i < 48 * 8; i += 3) {
      const bad = flipBit(pk, i);
      assert.equal(wasmKeyOk(bls, bad), nobleKeyOk(bad), why(`public key bit ${i}`));
    }
    for (let i = 0; i < 96 * 8; i += 7) {
      const bad = flipBit(sig, i);
      assert.equal(bls.isValidSignature(bad), nobleSigOk(bad), why(`signature bit ${i}`));
    }
    for (let i = 0; i < 64; i++) {
      const rk = bytesOf('random-key', i, 48);
      rk[0] = (rk[0]! & 0x1f) | 0x80 | (i & 1 ? 0x20 : 0);
      assert.equal(wasmKeyOk(bls, rk), nobleKeyOk(rk), why(`random key ${i}`));
      const rs = bytesOf('random-sig', i, 96);
      rs[0] = (rs[0]! & 0x1f) | 0x80 | (i & 1 ? 0x20 : 0);
      assert.equal(bls.isValidSignature(rs), nobleSigOk(rs), why(`random signature ${i}`));
    }
  });

  it('refuses handles made by another instance, and each instance works on its own', async () => {
    const other = await createWasmBls(await compileBlsWasm());
    const foreign = other.deserializePublicKey(keys[0]!.publicKey);
    assert.throws(() => bls.serializePublicKey(foreign), BlsKeyError);
    assert.equal(bls.verify(foreign, message, signatures[0]!), false);
    assert.equal(other.verify(foreign, message, signatures[0]!), true);
  });
});
