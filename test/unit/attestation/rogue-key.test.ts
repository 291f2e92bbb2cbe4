import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bytesToHex, hexToBytes } from 'viem';
import { bls12_381 } from '@noble/curves/bls12-381.js';
import {
  POP_DST,
  admitOperator,
  aggregatePublicKeys,
  computeAttestationDigest,
  computeIntentHash,
  createProofOfPossession,
  decodePublicKey,
  deriveSecretKey,
  hashToSignatureCurve,
  verifyAttestation,
  verifyProofOfPossession,
  type Attestation,
  type OperatorRegistry,
} from '../../../core/attestation';
import { NOW, OPERATORS, THRESHOLD_BPS, makeRegistry, makeRequest } from './fixtures';

const G1 = bls12_381.G1.Point;
const Fn = G1.Fn;

// The attacker knows a, and publishes pk_attacker = g^a - pk_victim without knowing its secret.
const victim = OPERATORS[3]!; // 400 of 1000 stake
const a = Fn.fromBytes(deriveSecretKey(new Uint8Array(32).fill(0x66)));
const roguePoint = G1.BASE.multiply(a).subtract(decodePublicKey(victim.publicKey));
const roguePublicKey = roguePoint.toBytes(true);

// The forged "aggregate" for any digest m is a * H(m): it verifies for pk_victim + pk_attacker = g^a.
function forge(attestationBody: Omit<Attestation, 'aggregateSignature'>): Attestation {
  const signature = hashToSignatureCurve(hexToBytes(attestationBody.digest)).multiply(a);
  return { ...attestationBody, aggregateSignature: bytesToHex(signature.toBytes(true)) };
}

function forgedAttestation(registry: OperatorRegistry, signers: string[]): Attestation {
  const request = makeRequest();
  const intentHash = computeIntentHash(request.intent);
  const digest = computeAttestationDigest({ ...request, intentHash });
  const stakes = new Map(registry.operators.map((o) => [o.id, BigInt(o.stake)]));
  const signedStake = signers.reduce((sum, id) => sum + (stakes.get(id) ?? 0n), 0n);
  const totalStake = [...stakes.values()].reduce((sum, s) => sum + s, 0n);
  const { thresholdBps, ...rest } = request;
  return forge({
    ...rest,
    thresholdBps,
    intentHash,
    digest,
    signers,
    nonSigners: registry.operators.map((o) => o.id).filter((id) => !signers.includes(id)),
    signedStake: signedStake.toString(),
    totalStake: totalStake.toString(),
  });
}

describe('rogue-key attack', () => {
  it('the forged aggregate verifies under naive aggregation (the attack is real)', () => {
    const message = new Uint8Array(32).fill(1);
    const forged = hashToSignatureCurve(message).multiply(a);
    const naiveKey = aggregatePublicKeys([victim.publicKey, roguePublicKey]);
    assert.equal(naiveKey.equals(G1.BASE.multiply(a)), true);
    assert.equal(
      bls12_381.longSignatures.verify(forged, hashToSignatureCurve(message), naiveKey),
      true,
      'victim + rogue key accepts a signature the victim never made',
    );
    // A registry that skipped the PoP check would accept a fully forged attestation.
    const checked = makeRegistry();
    const unchecked: OperatorRegistry = {
      ...checked,
      operators: [...checked.operators, { id: 'attacker', blsPublicKey: bytesToHex(roguePublicKey), stake: 1000n }],
    };
    const attack = forgedAttestation(unchecked, ['op-4', 'attacker']);
    assert.deepEqual(verifyAttestation(attack, unchecked, { now: NOW, policyThresholdBps: THRESHOLD_BPS }), { valid: true, reasons: [] });
  });

  it('the attacker cannot produce a proof of possession for the crafted key', () => {
    // Without the discrete log of pk_attacker, the best he can sign with is a (or the victim's PoP).
    const withA = bls12_381.longSignatures.hash(roguePublicKey, POP_DST).multiply(a).toBytes(true);
    const victimPop = createProofOfPossession(victim.secretKey);
    for (const proof of [withA, victimPop]) {
      assert.equal(verifyProofOfPossession(roguePublicKey, proof), false);
      assert.throws(
        () =>
          admitOperator(makeRegistry(), {
            id: 'attacker',
            blsPublicKey: bytesToHex(roguePublicKey),
            proofOfPossession: bytesToHex(proof),
            stake: 1000n,
          }),
        { code: 'invalid_proof_of_possession' },
      );
    }
  });

  it('against PoP-registered keys the attack aggregate does not verify', () => {
    const registry = makeRegistry();
    const withAttacker = forgedAttestation(registry, ['op-4', 'attacker']);
    assert.ok(verifyAttestation(withAttacker, registry, { now: NOW, policyThresholdBps: THRESHOLD_BPS }).reasons.includes('unknown_signer'));
    // Claiming every registered operator signed (full stake) still fails the pairing check.
    const everyone = forgedAttestation(
      registry,
      OPERATORS.map((o) => o.id),
    );
    assert.deepEqual(verifyAttestation(everyone, registry, { now: NOW, policyThresholdBps: THRESHOLD_BPS }).reasons, ['invalid_signature']);
  });
});
