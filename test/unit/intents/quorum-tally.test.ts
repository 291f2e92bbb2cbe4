import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bytesToHex, hexToBytes } from 'viem';
import { computePolicyDataHash, generateKeyPair, signMessage, verifyAttestation } from '../../../core/attestation';
import { compilePolicy } from '../../../core/rego';
import { signTask } from '../../../signer-node/evaluate-task';
import { attestationIfQuorum, countSignature, expectedDigest, stakeByDigest, type SignatureTally } from '../../../core/attestation';
import { KEYS, makeTask, registry } from './task-fixtures';

const policyData = {};
const policy = compilePolicy(makeTask().modules);

function tally(thresholdBps = 6700): SignatureTally {
  return { task: makeTask({ thresholdBps }), registry: registry(), policyDataHash: computePolicyDataHash(policyData), counted: [] };
}

const reply = (i: number, thresholdBps = 6700) => signTask(KEYS[i]!.secretKey, policy, makeTask({ thresholdBps }), policyData);

describe('signature tally', () => {
  it('counts verified signatures and aggregates once a stake quorum signed the same digest', () => {
    const t = tally();
    assert.equal(countSignature(t, 'operator-1', reply(0)), null);
    assert.equal(attestationIfQuorum(t), null, '50 of 100 is below 67 %');
    assert.equal(countSignature(t, 'operator-3', reply(2)), null);
    const attestation = attestationIfQuorum(t);
    assert.ok(attestation);
    assert.deepEqual(attestation.signers, ['operator-1', 'operator-3']);
    assert.deepEqual(attestation.nonSigners, ['operator-2']);
    assert.equal(attestation.signedStake, '70');
    assert.deepEqual(verifyAttestation(attestation, registry(), { now: 1_800_000_000n, policyThresholdBps: 6700 }), { valid: true, reasons: [] });
    assert.equal(attestation.registryBlock, t.task.registryBlock);
    assert.equal(attestation.thresholdBps, 6700);
  });

  it('ignores duplicates, unregistered signers, forged signatures and foreign digests', () => {
    const t = tally();
    assert.equal(countSignature(t, 'operator-1', reply(0)), null);
    assert.equal(countSignature(t, 'operator-1', reply(0)), 'duplicate_signer');
    assert.equal(countSignature(t, 'intruder', reply(1)), 'unknown_operator');
    assert.equal(countSignature(t, 'operator-2', reply(0)), 'invalid_signature', "operator-1's signature does not count for operator-2");
    const stranger = generateKeyPair(new Uint8Array(32).fill(9));
    const forged = { ...reply(1), signature: bytesToHex(signMessage(stranger.secretKey, hexToBytes(reply(1).digest))) };
    assert.equal(countSignature(t, 'operator-2', forged), 'invalid_signature');
    const otherTask = signTask(KEYS[1]!.secretKey, policy, makeTask({ taskId: `0x${'ff'.repeat(32)}` }), policyData);
    assert.equal(countSignature(t, 'operator-2', otherTask), 'digest_mismatch');
    assert.equal(countSignature(t, 'operator-2', { ...reply(1), policyDataHash: `0x${'00'.repeat(32)}` }), 'policy_data_hash_mismatch');
    // A verdict signed with another quorum than the task's (the policy's) is another digest.
    assert.equal(countSignature(t, 'operator-2', reply(1, 5000)), 'digest_mismatch');
    assert.equal(t.counted.length, 1);
  });

  it('zero-stake operators never count, and a snapshot without stake never forms a quorum', () => {
    const zeroed = { ...registry(), operators: registry().operators.map((o) => (o.id === 'operator-1' ? { ...o, stake: 0n } : o)) };
    const t: SignatureTally = { ...tally(), registry: zeroed };
    assert.equal(countSignature(t, 'operator-1', reply(0)), 'unknown_operator');
    const nobody: SignatureTally = { ...tally(1), registry: { ...registry(), operators: registry().operators.map((o) => ({ ...o, stake: 0n })) } };
    for (const [i, id] of ['operator-1', 'operator-2', 'operator-3'].entries())
      assert.equal(countSignature(nobody, id, reply(i, 1)), 'unknown_operator');
    assert.equal(attestationIfQuorum(nobody), null);
  });

  it('groups by digest: split verdicts do not add up', () => {
    const t = tally(5000);
    assert.equal(countSignature(t, 'operator-2', reply(1, 5000)), null);
    // operator-3 signs "deny" for the same task: a valid signature, but over another digest.
    const deny = expectedDigest(t.task, t.policyDataHash, false);
    const denyReply = {
      allowed: false,
      reasons: ['no'],
      policyDataHash: t.policyDataHash,
      digest: deny,
      signature: bytesToHex(signMessage(KEYS[2]!.secretKey, hexToBytes(deny))),
    };
    assert.equal(countSignature(t, 'operator-3', denyReply), null);
    assert.deepEqual(
      stakeByDigest(t).map((g) => g.stake),
      [30n, 20n],
    );
    assert.equal(attestationIfQuorum(t), null);
    assert.equal(countSignature(t, 'operator-1', reply(0, 5000)), null);
    const attestation = attestationIfQuorum(t)!;
    assert.equal(attestation.allowed, true);
    assert.deepEqual(attestation.signers, ['operator-1', 'operator-2']);
    assert.deepEqual(attestation.nonSigners, ['operator-3']);
  });
});
