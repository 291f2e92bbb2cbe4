import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bls12_381 } from '@noble/curves/bls12-381.js';
import { toEip2537G1, toEip2537G2 } from '../../../core/attestation';
import { OPERATORS } from './fixtures';

const pad = (hex: string) => hex.padStart(128, '0');

// Generators as listed in EIP-2537 (H1, H2), each Fp coordinate padded to 64 bytes.
const G1_GENERATOR = `0x${pad('17f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb')}${pad('08b3f481e3aaa0f1a09e30ed741d8ae4fcf5e095d5d00af600db18cb2c04b3edd03cc744a2888ae40caa232946c5e7e1')}`;
const G2_GENERATOR = `0x${[
  '024aa2b2f08f0a91260805272dc51051c6e47ad4fa403b02b4510b647ae3d1770bac0326a805bbefd48056c8c121bdb8',
  '13e02b6052719f607dacd3a088274f65596bd0d09920b61ab5da61bbdc7f5049334cf11213945d57e5ac7d055d042b7e',
  '0ce5d527727d6e118cc9cdc6da2e351aadfd9baa8cbdd3a76d429a695160d12c923ac9cc3baca289e193548608b82801',
  '0606c4a02ea734cc32acd2b02bc28b99cb3e287e85a763af267492ab572e99ab3f370d275cec1da1aaa9075ff05f79be',
]
  .map(pad)
  .join('')}`;

describe('EIP-2537 encodings', () => {
  it('encode the generators exactly as the EIP lists them (Fp2 as c0 || c1)', () => {
    assert.equal(toEip2537G1(bls12_381.G1.Point.BASE), G1_GENERATOR);
    assert.equal(toEip2537G2(bls12_381.G2.Point.BASE), G2_GENERATOR);
  });

  it('encode the identity as all zeros and compressed inputs via their decoded point', () => {
    assert.equal(toEip2537G1(bls12_381.G1.Point.ZERO), `0x${'00'.repeat(128)}`);
    assert.equal(toEip2537G2(bls12_381.G2.Point.ZERO), `0x${'00'.repeat(256)}`);
    const key = OPERATORS[0]!.publicKey;
    assert.equal(toEip2537G1(key), toEip2537G1(bls12_381.G1.Point.fromBytes(key)));
    assert.throws(() => toEip2537G1(key.subarray(1)), { code: 'invalid_public_key' });
  });

  it('fixture keys cover both y-sign flags, so on-chain compression is exercised for each', () => {
    const flags = new Set([...OPERATORS.map((op) => op.publicKey[0]! & 0x20)]);
    assert.deepEqual([...flags].sort(), [0, 0x20]);
  });
});
