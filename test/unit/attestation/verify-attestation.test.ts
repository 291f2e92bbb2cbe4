import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hexToBytes, bytesToHex, type Hex } from 'viem';
import { meetsQuorum, verifyAttestation, type OperatorRegistry } from '../../../core/attestation';
import { NOW, OPERATORS, POLICY_CLIENT, POLICY_ID, makeRegistry, makeRequest, rehash, signAttestation } from './fixtures';

const registry = makeRegistry();
const [op1, op2, op3, op4] = OPERATORS as [(typeof OPERATORS)[0], (typeof OPERATORS)[0], (typeof OPERATORS)[0], (typeof OPERATORS)[0]];
// op-2, op-3 and op-4 hold 900 of 1000 stake.
const valid = signAttestation(makeRequest(), [op2, op3, op4], registry);
const options = { now: NOW, expectedChainId: 31337, expectedPolicyId: POLICY_ID, expectedPolicyClient: POLICY_CLIENT };

function check(attestation: unknown, reg: OperatorRegistry = registry, extra: Partial<typeof options> & Record<string, unknown> = {}) {
  return verifyAttestation(attestation, reg, { ...options, ...extra });
}

function assertRefused(attestation: unknown, ...expected: string[]) {
  const result = check(attestation);
  assert.equal(result.valid, false);
  for (const reason of expected) assert.ok(result.reasons.includes(reason as never), `${reason} in ${result.reasons.join(',')}`);
}

describe('verifyAttestation', () => {
  it('accepts a quorum-signed attestation and reports recomputed stakes', () => {
    assert.deepEqual(check(valid), { valid: true, reasons: [] });
    assert.deepEqual(valid.signers, ['op-2', 'op-3', 'op-4']);
    assert.deepEqual(valid.nonSigners, ['op-1']);
    assert.equal(valid.signedStake, '900');
    assert.equal(valid.totalStake, '1000');
    // Round-trips through JSON unchanged: the document is plain data.
    assert.deepEqual(check(JSON.parse(JSON.stringify(valid))), { valid: true, reasons: [] });
  });

  it('flipping `allowed` breaks the digest and, re-hashed, the signature', () => {
    assertRefused({ ...valid, allowed: false }, 'digest_mismatch', 'invalid_signature');
    assert.deepEqual(check(rehash({ ...valid, allowed: false }), registry, { requireAllowed: false }).reasons, ['invalid_signature']);
    const denied = signAttestation(makeRequest({ allowed: false, reasons: ['sanctioned recipient'] }), [op2, op3, op4], registry);
    assert.deepEqual(check(denied).reasons, ['not_allowed']);
    assert.deepEqual(check(denied, registry, { requireAllowed: false }), { valid: true, reasons: [] });
    assert.deepEqual(check(rehash({ ...denied, allowed: true })).reasons, ['invalid_signature']);
  });

  it('changing the chain id fails, even with the intent and hashes made consistent', () => {
    const moved = rehash({ ...valid, chainId: 1, intent: { ...valid.intent, chainId: 1 } });
    assert.deepEqual(check(moved, registry, { expectedChainId: 1 }).reasons, ['invalid_signature']);
    assert.deepEqual(check(valid, registry, { expectedChainId: 1 }).reasons, ['chain_id_mismatch']);
    assertRefused({ ...valid, intent: { ...valid.intent, chainId: 1 } }, 'intent_chain_mismatch', 'intent_hash_mismatch');
  });

  it('changing the policy id or policy client fails', () => {
    const other: Hex = `0x${'cd'.repeat(32)}`;
    assert.deepEqual(check(rehash({ ...valid, policyId: other }), registry, { expectedPolicyId: other }).reasons, ['invalid_signature']);
    assert.deepEqual(check(valid, registry, { expectedPolicyId: other }).reasons, ['policy_id_mismatch']);
    const client = '0x00000000000000000000000000000000000000c2';
    assert.deepEqual(check(valid, registry, { expectedPolicyClient: client }).reasons, ['policy_client_mismatch']);
    assert.deepEqual(check(valid, registry, { expectedPolicyDataHash: other }).reasons, ['policy_data_hash_mismatch']);
  });

  it('changing the expiration or any intent field fails', () => {
    assertRefused({ ...valid, expiration: valid.expiration + 1 }, 'digest_mismatch');
    assert.deepEqual(check(rehash({ ...valid, expiration: valid.expiration + 3600 })).reasons, ['invalid_signature']);
    assertRefused({ ...valid, intent: { ...valid.intent, value: '1000000000000000001' } }, 'intent_hash_mismatch');
    for (const intent of [
      { ...valid.intent, value: '1000000000000000001' },
      { ...valid.intent, to: '0x2222222222222222222222222222222222222223' as const },
      { ...valid.intent, data: '0xa9059cbc' as const },
    ]) {
      assert.deepEqual(check(rehash({ ...valid, intent })).reasons, ['invalid_signature']);
    }
    assert.deepEqual(check(rehash({ ...valid, taskId: `0x${'02'.repeat(32)}` })).reasons, ['invalid_signature']);
  });

  it('flipping any single signature byte fails', () => {
    const signature = hexToBytes(valid.aggregateSignature);
    for (const index of [0, 1, 47, 48, 95]) {
      const tampered = signature.slice();
      tampered[index]! ^= 0x01;
      const result = check({ ...valid, aggregateSignature: bytesToHex(tampered) });
      assert.equal(result.valid, false, `byte ${index}`);
      assert.equal(result.reasons.length, 1);
      assert.ok(['malformed_signature', 'invalid_signature'].includes(result.reasons[0]!), result.reasons[0]);
    }
  });

  it('editing the signer list fails', () => {
    // Claim op-1 signed too (stakes made consistent): the aggregate key no longer matches.
    const extended = { ...valid, signers: ['op-1', ...valid.signers], nonSigners: [], signedStake: '1000' };
    assert.deepEqual(check(extended).reasons, ['invalid_signature']);
    // Drop op-4 (stakes made consistent): 500/1000 misses quorum and the key does not match.
    const dropped = { ...valid, signers: ['op-2', 'op-3'], nonSigners: ['op-1', 'op-4'], signedStake: '500' };
    assert.deepEqual(check(dropped).reasons.sort(), ['invalid_signature', 'quorum_not_met']);
    assertRefused({ ...valid, signers: [...valid.signers, 'op-4'] }, 'duplicate_signer');
    assertRefused({ ...valid, signers: [...valid.signers, 'op-9'] }, 'unknown_signer');
    assertRefused({ ...valid, nonSigners: [] }, 'non_signers_mismatch');
    assertRefused({ ...valid, signedStake: '1000' }, 'signed_stake_mismatch');
    assertRefused({ ...valid, totalStake: '900' }, 'total_stake_mismatch');
    assertRefused({ ...valid, signers: [], nonSigners: OPERATORS.map((o) => o.id), signedStake: '0' }, 'no_signers');
  });

  it('an attestation is refused after its expiration and accepted up to it', () => {
    assert.deepEqual(check(valid, registry, { now: BigInt(valid.expiration) }), { valid: true, reasons: [] });
    assert.deepEqual(check(valid, registry, { now: BigInt(valid.expiration) + 1n }).reasons, ['expired']);
  });

  it('single use: a consumed digest is refused', () => {
    const consumed = new Set<string>([valid.digest]);
    assert.deepEqual(check(valid, registry, { consumed: (d: Hex) => consumed.has(d) }).reasons, ['already_consumed']);
  });

  it('quorum uses recomputed stake and the verifier floor, not the unsigned thresholdBps', () => {
    const minority = signAttestation(makeRequest(), [op1, op2, op3], registry); // 600/1000
    assert.deepEqual(check(minority).reasons, ['quorum_not_met']);
    assert.deepEqual(check({ ...minority, thresholdBps: 5000 }).reasons.sort(), ['quorum_not_met', 'threshold_too_low']);
    assert.deepEqual(check({ ...minority, thresholdBps: 6000 }, registry, { minThresholdBps: 6000 }), { valid: true, reasons: [] });
    assert.equal(meetsQuorum(6000n, 10000n, 6000), true);
    assert.equal(meetsQuorum(5999n, 10000n, 6000), false);
    assert.equal(meetsQuorum(0n, 0n, 1), false);
  });

  it('a signer that was deactivated or removed no longer counts', () => {
    const deactivated: OperatorRegistry = {
      operators: registry.operators.map((o) => (o.id === 'op-4' ? { ...o, status: 'inactive' } : o)),
    };
    const result = check(valid, deactivated);
    assert.ok(result.reasons.includes('inactive_signer'));
    assert.ok(result.reasons.includes('total_stake_mismatch'));
  });

  it('malformed documents are refused with malformed_attestation', () => {
    for (const bad of [null, 'x', {}, { ...valid, chainId: '31337' }, { ...valid, extra: 1 }, { ...valid, aggregateSignature: '0x00' }]) {
      assert.deepEqual(check(bad), { valid: false, reasons: ['malformed_attestation'] });
    }
  });
});
