import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bytesToHex, hexToBytes } from 'viem';
import { bls12_381 } from '@noble/curves/bls12-381.js';
import {
  BlsKeyError,
  admitOperator,
  createProofOfPossession,
  decodePublicKey,
  deriveSecretKey,
  generateKeyPair,
  getPublicKey,
  signMessage,
  verifyProofOfPossession,
} from '../../../core/attestation';
import { OPERATORS, makeRegistry } from './fixtures';

describe('BLS keys', () => {
  it('KeyGen matches the EIP-2333 test case 0 master key (HKDF_mod_r = IETF KeyGen)', () => {
    const seed = hexToBytes(
      '0xc55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04',
    );
    const secretKey = deriveSecretKey(seed);
    assert.equal(BigInt(bytesToHex(secretKey)), 6083874454709270928345386274498605044986640685124978867557563392430687146096n);
  });

  it('public key matches the Ethereum consensus-spec test vector', () => {
    const secretKey = hexToBytes('0x263dbd792f5b1be47ed85f8938c0f29586af0d3ac7b977f21c278fe1462040e3');
    assert.equal(
      bytesToHex(getPublicKey(secretKey)),
      '0xa491d1b0ecd9bb917989f0e74f0dea0422eac4a873e5e2644f368dffb9a6e20fd6e10c1b77654d067c0618f6e5a7f79a',
    );
  });

  it('refuses short key material and out-of-range secret keys', () => {
    assert.throws(() => deriveSecretKey(new Uint8Array(31)), { code: 'invalid_key_material' });
    assert.throws(() => getPublicKey(new Uint8Array(32)), { code: 'invalid_secret_key' });
    const order = bls12_381.G1.Point.Fn.ORDER;
    assert.throws(() => getPublicKey(hexToBytes(`0x${order.toString(16).padStart(64, '0')}`)), BlsKeyError);
  });

  it('decodePublicKey refuses identity, wrong length, off-curve and non-canonical encodings', () => {
    const identity = new Uint8Array(48);
    identity[0] = 0xc0;
    assert.throws(() => decodePublicKey(identity), { code: 'invalid_public_key' });
    assert.throws(() => decodePublicKey(OPERATORS[0]!.publicKey.subarray(0, 47)), { code: 'invalid_public_key' });
    const uncompressed = bls12_381.G1.Point.fromBytes(OPERATORS[0]!.publicKey).toBytes(false);
    assert.throws(() => decodePublicKey(uncompressed), { code: 'invalid_public_key' });
    // x + p still fits in 381 bits for small x: a second encoding of the same key that must
    // be refused (otherwise one key could be registered twice under different bytes).
    const p = bls12_381.fields.Fp.ORDER;
    // About a quarter of keys qualify; 64 deterministic candidates make a miss negligible.
    const small = Array.from({ length: 64 }, (_, i) => generateKeyPair(new Uint8Array(32).fill(100 + i)).publicKey).find(
      (pk) => bls12_381.G1.Point.fromBytes(pk).toAffine().x + p < 2n ** 381n,
    );
    assert.ok(small, 'a key with a small x coordinate');
    const x = bls12_381.G1.Point.fromBytes(small).toAffine().x;
    const aliased = hexToBytes(`0x${(x + p).toString(16).padStart(96, '0')}`);
    aliased[0]! |= small[0]! & 0xe0;
    assert.throws(() => decodePublicKey(aliased), { code: 'invalid_public_key' });
  });
});

describe('proofs of possession', () => {
  const [alice, bob] = [generateKeyPair(new Uint8Array(32).fill(7)), generateKeyPair(new Uint8Array(32).fill(8))];

  it('a PoP made by the key holder verifies', () => {
    assert.equal(verifyProofOfPossession(alice.publicKey, createProofOfPossession(alice.secretKey)), true);
  });

  it("another key's PoP, a tampered PoP, or garbage is refused", () => {
    const pop = createProofOfPossession(alice.secretKey);
    assert.equal(verifyProofOfPossession(bob.publicKey, pop), false);
    const tampered = pop.slice();
    tampered[95]! ^= 1;
    assert.equal(verifyProofOfPossession(alice.publicKey, tampered), false);
    assert.equal(verifyProofOfPossession(alice.publicKey, new Uint8Array(96)), false);
    assert.equal(verifyProofOfPossession(alice.publicKey.subarray(1), pop), false);
  });

  it('PoP and message signatures are domain-separated', () => {
    // A message signature over the public key bytes uses the SIG DST, so it is not a PoP.
    const messageSignature = signMessage(alice.secretKey, alice.publicKey);
    assert.equal(verifyProofOfPossession(alice.publicKey, messageSignature), false);
  });

  it('admitOperator requires a valid PoP and refuses duplicates', () => {
    const registry = makeRegistry(OPERATORS.slice(0, 1));
    const candidate = {
      id: 'op-x',
      blsPublicKey: bytesToHex(bob.publicKey),
      proofOfPossession: bytesToHex(createProofOfPossession(alice.secretKey)),
      stake: 5n,
    };
    assert.throws(() => admitOperator(registry, candidate), { code: 'invalid_proof_of_possession' });
    const good = { ...candidate, proofOfPossession: bytesToHex(createProofOfPossession(bob.secretKey)) };
    const next = admitOperator(registry, good);
    assert.equal(next.operators.length, 2);
    assert.equal(next.operators[1]?.stake, 5n);
    assert.equal(next.blockNumber, registry.blockNumber, 'admission keeps the snapshot it was added to');
    assert.throws(() => admitOperator(next, good), { code: 'duplicate_operator' });
    assert.throws(() => admitOperator(next, { ...good, id: 'op-y' }), { code: 'duplicate_operator' });
  });
});
