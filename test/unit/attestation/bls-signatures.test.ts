import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bytesToHex, hexToBytes } from 'viem';
import { bls12_381 } from '@noble/curves/bls12-381.js';
import {
  aggregatePublicKeys,
  aggregateSignatures,
  decodePublicKey,
  decodeSignature,
  getPublicKey,
  hashToSignatureCurve,
  signMessage,
  verifySignature,
} from '../../../core/attestation';
import { OPERATORS } from './fixtures';

// Ethereum consensus-spec-tests bls/sign vectors; Ethereum uses this exact POP ciphersuite.
const SIGN_VECTORS = [
  {
    secretKey: '0x263dbd792f5b1be47ed85f8938c0f29586af0d3ac7b977f21c278fe1462040e3',
    message: `0x${'00'.repeat(32)}`,
    signature:
      '0xb6ed936746e01f8ecf281f020953fbf1f01debd5657c4a383940b020b26507f6076334f91e2366c96e9ab279fb5158090352ea1c5b0c9274504f4f0e7053af24802e51e4568d164fe986834f41e55c8e850ce1f98458c0cfc9ab380b55285a55',
  },
  {
    secretKey: '0x328388aff0d4a5b7dc9205abd374e7e98f3cd9f3418edb4eafda5fb16473d216',
    message: `0x${'56'.repeat(32)}`,
    signature:
      '0xa4efa926610b8bd1c8330c918b7a5e9bf374e53435ef8b7ec186abf62e1b1f65aeaaeb365677ac1d1172a1f5b44b4e6d022c252c58486c0a759fbdc7de15a756acc4d343064035667a594b4c2a6f0b0b421975977f297dba63ee2f63ffe47bb6',
  },
] as const;

describe('BLS signatures (POP ciphersuite)', () => {
  for (const [i, vector] of SIGN_VECTORS.entries()) {
    it(`signing reproduces known-answer vector ${i} and verifies`, () => {
      const secretKey = hexToBytes(vector.secretKey);
      const message = hexToBytes(vector.message);
      assert.equal(bytesToHex(signMessage(secretKey, message)), vector.signature);
      assert.equal(verifySignature(getPublicKey(secretKey), message, hexToBytes(vector.signature)), true);
    });
  }

  it("noble's verify agrees with an explicit pairing check e(pk, H(m)) == e(g1, sig)", () => {
    const op = OPERATORS[0]!;
    const message = new Uint8Array(32).fill(9);
    const signature = signMessage(op.secretKey, message);
    const { pairing, fields } = bls12_381;
    const left = pairing(decodePublicKey(op.publicKey), hashToSignatureCurve(message));
    const right = pairing(bls12_381.G1.Point.BASE, decodeSignature(signature));
    assert.equal(fields.Fp12.eql(left, right), true);
    assert.equal(verifySignature(op.publicKey, message, signature), true);
    const other = new Uint8Array(32).fill(10);
    assert.equal(fields.Fp12.eql(pairing(decodePublicKey(op.publicKey), hashToSignatureCurve(other)), right), false);
    assert.equal(verifySignature(op.publicKey, other, signature), false);
  });

  it('same-message aggregate verifies under the aggregate key and fails if a signer is missing', () => {
    const message = new Uint8Array(32).fill(11);
    const signatures = OPERATORS.map((op) => signMessage(op.secretKey, message));
    const aggregate = aggregateSignatures(signatures);
    assert.equal(verifySignature(aggregatePublicKeys(OPERATORS.map((op) => op.publicKey)), message, aggregate), true);
    assert.equal(verifySignature(aggregatePublicKeys(OPERATORS.slice(1).map((op) => op.publicKey)), message, aggregate), false);
  });

  it('refuses identity signatures and identity aggregate keys', () => {
    const identity = new Uint8Array(96);
    identity[0] = 0xc0;
    assert.throws(() => decodeSignature(identity), { code: 'invalid_signature_encoding' });
    const message = new Uint8Array(32);
    assert.equal(verifySignature(OPERATORS[0]!.publicKey, message, identity), false);
    const pk = decodePublicKey(OPERATORS[0]!.publicKey);
    // pk + (-pk) is the identity: it would pair to 1 with the identity signature if allowed.
    assert.equal(verifySignature(aggregatePublicKeys([pk, pk.negate()]), message, identity), false);
  });
});
