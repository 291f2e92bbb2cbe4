/** Builds an attestation from individual operator signatures (what the task aggregator does). */
import { bytesToHex, hexToBytes, isHex, type Address, type Hex } from 'viem';
import type { Attestation } from './attestation';
import { computeAttestationDigest } from './attestation-digest';
import { aggregateSignatures, verifySignature } from './bls-signatures';
import { OperatorRegistryError } from './errors';
import { computeIntentHash, type Intent } from './intent-hash';
import { activeOperators, operatorPublicKey, parseStake, type OperatorRegistry } from './operator-registry';

/** The verdict and task fields every operator signs. */
export type AttestationRequest = {
  taskId: Hex;
  policyId: Hex;
  policyClient: Address;
  chainId: number;
  intent: Intent;
  allowed: boolean;
  reasons: string[];
  policyDataHash: Hex;
  expiration: number;
  thresholdBps: number;
};

/** One operator's 96-byte compressed signature over the attestation digest. */
export type OperatorSignature = { operatorId: string; signature: Hex };

/**
 * Checks each operator signature against its registered key and aggregates them. Quorum is
 * not enforced here (use meetsQuorum on the result) so callers can accumulate incrementally.
 */
export function assembleAttestation(request: AttestationRequest, signatures: readonly OperatorSignature[], registry: OperatorRegistry): Attestation {
  const intentHash = computeIntentHash(request.intent);
  const digest = computeAttestationDigest({ ...request, intentHash });
  const active = activeOperators(registry);
  const byId = new Map(signatures.map((s) => [s.operatorId, s.signature]));
  if (byId.size !== signatures.length) {
    throw new OperatorRegistryError('duplicate_operator', 'an operator signed more than once');
  }
  for (const id of byId.keys()) {
    if (!active.some((operator) => operator.id === id)) {
      throw new OperatorRegistryError('unknown_operator', `operator ${id} is not an active operator`);
    }
  }
  const signers: string[] = [];
  const nonSigners: string[] = [];
  const parts: Uint8Array[] = [];
  let signedStake = 0n;
  let totalStake = 0n;
  for (const operator of active) {
    const stake = parseStake(operator.stake);
    if (stake === undefined) throw new OperatorRegistryError('invalid_stake', `invalid stake for ${operator.id}`);
    totalStake += stake;
    const signature = byId.get(operator.id);
    if (signature === undefined) {
      nonSigners.push(operator.id);
      continue;
    }
    const bytes = isHex(signature) ? hexToBytes(signature) : new Uint8Array(0);
    if (!verifySignature(operatorPublicKey(operator), hexToBytes(digest), bytes)) {
      throw new OperatorRegistryError('invalid_operator_signature', `bad signature from operator ${operator.id}`);
    }
    signers.push(operator.id);
    parts.push(bytes);
    signedStake += stake;
  }
  return {
    taskId: request.taskId,
    policyId: request.policyId,
    policyClient: request.policyClient,
    chainId: request.chainId,
    intent: request.intent,
    intentHash,
    allowed: request.allowed,
    reasons: request.reasons,
    policyDataHash: request.policyDataHash,
    expiration: request.expiration,
    digest,
    aggregateSignature: bytesToHex(aggregateSignatures(parts)),
    signers,
    nonSigners,
    signedStake: signedStake.toString(),
    totalStake: totalStake.toString(),
    thresholdBps: request.thresholdBps,
  };
}
