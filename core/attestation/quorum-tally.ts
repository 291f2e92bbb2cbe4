/**
 * Phase 2 of a task: count operators' signed verdicts towards a stake-weighted quorum. Every
 * signature is verified against the signer's key in the task's registry snapshot before it counts;
 * duplicates, non-members and zero-stake operators are ignored; answers are grouped by digest, so
 * only operators that signed the very same verdict add up.
 */
import { hexToBytes, type Address, type Hex } from 'viem';
import { aggregateVerifiedSignatures } from './assemble-attestation';
import type { Attestation } from './attestation';
import { computeAttestationDigest } from './attestation-digest';
import { nobleBlsVerifier, type BlsVerifier } from './bls-verifier';
import { computeIntentHash, type Intent } from './intent-hash';
import { activeOperators, parseStake, registryTotalStake, type OperatorRegistry } from './operator-registry';
import { meetsQuorum } from './quorum';

/** The fields of a task that its verdicts are signed over (what core/operator-protocol's TaskAssignment carries). */
export interface TallyTask {
  taskId: Hex;
  policyId: Hex;
  policyClient: Address;
  chainId: number;
  intent: Intent;
  expiration: number;
  thresholdBps: number;
  registry: Address;
  registryBlock: number;
}

/** One operator's signed verdict (what a signer node answers in phase 2). */
export interface SignedVerdict {
  allowed: boolean;
  reasons: string[];
  policyDataHash: Hex;
  digest: Hex;
  signature: Hex;
}

/** A verified signature, counted in its digest's group. */
export interface CountedSignature {
  operatorId: string;
  digest: Hex;
  allowed: boolean;
  reasons: string[];
  signature: Hex;
}

/** Why an operator's answer was not counted. */
export type TallyRejection = 'unknown_operator' | 'duplicate_signer' | 'policy_data_hash_mismatch' | 'digest_mismatch' | 'invalid_signature';

/** The tally of one task's phase 2. */
export interface SignatureTally {
  task: TallyTask;
  /** The task's registry snapshot (task.registry at task.registryBlock). */
  registry: OperatorRegistry;
  policyDataHash: Hex;
  counted: CountedSignature[];
}

/** The digest an operator must sign for `allowed` (everything else is fixed by the task). */
export function expectedDigest(task: TallyTask, policyDataHash: Hex, allowed: boolean): Hex {
  return computeAttestationDigest({
    taskId: task.taskId,
    policyId: task.policyId,
    policyClient: task.policyClient,
    chainId: task.chainId,
    intentHash: computeIntentHash(task.intent),
    allowed,
    policyDataHash,
    expiration: task.expiration,
    thresholdBps: task.thresholdBps,
    registry: task.registry,
    registryBlock: task.registryBlock,
  });
}

/**
 * Verifies and counts one operator's answer. Returns the rejection when it does not count, or
 * null when it was added to `tally.counted` (the tally is updated in place).
 */
export function countSignature(
  tally: SignatureTally,
  operatorId: string,
  reply: SignedVerdict,
  verifier: BlsVerifier = nobleBlsVerifier,
): TallyRejection | null {
  const operator = activeOperators(tally.registry).find((o) => o.id === operatorId);
  if (!operator) return 'unknown_operator';
  if (tally.counted.some((c) => c.operatorId === operatorId)) return 'duplicate_signer';
  if (reply.policyDataHash.toLowerCase() !== tally.policyDataHash.toLowerCase()) return 'policy_data_hash_mismatch';
  const digest = expectedDigest(tally.task, tally.policyDataHash, reply.allowed);
  if (reply.digest.toLowerCase() !== digest) return 'digest_mismatch';
  if (!verifier.verifyAggregate([operator.blsPublicKey], hexToBytes(digest), hexToBytes(reply.signature))) return 'invalid_signature';
  tally.counted.push({ operatorId, digest, allowed: reply.allowed, reasons: reply.reasons, signature: reply.signature });
  return null;
}

/** Signed stake per digest, largest first. */
export function stakeByDigest(tally: Pick<SignatureTally, 'registry' | 'counted'>): { digest: Hex; stake: bigint; signers: string[] }[] {
  const stakes = new Map(activeOperators(tally.registry).map((o) => [o.id, parseStake(o.stake)!]));
  const groups = new Map<Hex, { digest: Hex; stake: bigint; signers: string[] }>();
  for (const c of tally.counted) {
    const group = groups.get(c.digest) ?? { digest: c.digest, stake: 0n, signers: [] };
    group.stake += stakes.get(c.operatorId) ?? 0n;
    group.signers.push(c.operatorId);
    groups.set(c.digest, group);
  }
  return [...groups.values()].sort((a, b) => (a.stake === b.stake ? 0 : a.stake > b.stake ? -1 : 1));
}

/**
 * The attestation when one digest's signers hold the policy's quorum (signedStake * 10000 >=
 * totalStake * thresholdBps, with positive stakes), aggregated over exactly those signers; null
 * while no group does.
 */
export function attestationIfQuorum(tally: SignatureTally, verifier: BlsVerifier = nobleBlsVerifier): Attestation | null {
  const leader = stakeByDigest(tally)[0];
  if (!leader || !meetsQuorum(leader.stake, registryTotalStake(tally.registry), tally.task.thresholdBps)) return null;
  const signed = tally.counted.filter((c) => c.digest === leader.digest);
  const { task } = tally;
  return aggregateVerifiedSignatures(
    {
      taskId: task.taskId,
      policyId: task.policyId,
      policyClient: task.policyClient,
      chainId: task.chainId,
      intent: task.intent,
      allowed: signed[0]!.allowed,
      reasons: signed[0]!.reasons,
      policyDataHash: tally.policyDataHash,
      expiration: task.expiration,
      thresholdBps: task.thresholdBps,
      registry: task.registry,
      registryBlock: task.registryBlock,
    },
    signed.map((c) => ({ operatorId: c.operatorId, signature: c.signature })),
    tally.registry,
    verifier,
  );
}
