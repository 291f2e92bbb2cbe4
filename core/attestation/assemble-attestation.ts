/** Builds an attestation from individual operator signatures (what the task aggregator does). */
import { hexToBytes, isHex, type Address, type Hex } from 'viem';
import type { Attestation } from './attestation';
import { computeAttestationDigest } from './attestation-digest';
import { nobleBlsVerifier, type BlsVerifier } from './bls-verifier';
import { OperatorRegistryError } from './errors';
import { computeIntentHash, type Intent } from './intent-hash';
import { activeOperators, type OperatorRegistry } from './operator-registry';
import { aggregateSignerSet, type OperatorSignature } from './signer-set';

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
  registry: Address;
  registryBlock: number;
};

/** One operator's 96-byte compressed signature over the attestation digest. */
export type { OperatorSignature } from './signer-set';

/** The digest operators sign for a request. */
export function requestDigest(request: AttestationRequest): Hex {
  return computeAttestationDigest({ ...request, intentHash: computeIntentHash(request.intent) });
}

/**
 * Checks each operator signature against its key in the registry snapshot the request names, then
 * aggregates them. Quorum is not enforced here (use meetsQuorum on the result) so callers can
 * accumulate incrementally.
 */
export function assembleAttestation(
  request: AttestationRequest,
  signatures: readonly OperatorSignature[],
  registry: OperatorRegistry,
  verifier: BlsVerifier = nobleBlsVerifier,
): Attestation {
  const digest = hexToBytes(requestDigest(request));
  const members = new Map(activeOperators(registry).map((operator) => [operator.id, operator]));
  for (const { operatorId, signature } of signatures) {
    const operator = members.get(operatorId);
    if (operator === undefined) continue; // aggregateVerifiedSignatures names it
    const bytes = isHex(signature) ? hexToBytes(signature) : new Uint8Array(0);
    if (!verifier.verifyAggregate([operator.blsPublicKey], digest, bytes)) {
      throw new OperatorRegistryError('invalid_operator_signature', `bad signature from operator ${operatorId}`);
    }
  }
  return aggregateVerifiedSignatures(request, signatures, registry, verifier);
}

/**
 * Aggregates signatures that were each verified over the request's digest already (what a task's
 * tally holds): signers and non-signers in registry order, stakes from the snapshot.
 */
export function aggregateVerifiedSignatures(
  request: AttestationRequest,
  signatures: readonly OperatorSignature[],
  registry: OperatorRegistry,
  verifier: BlsVerifier = nobleBlsVerifier,
): Attestation {
  const signerSet = aggregateSignerSet(request, signatures, registry, verifier);
  return {
    taskId: request.taskId,
    policyId: request.policyId,
    policyClient: request.policyClient,
    chainId: request.chainId,
    intent: request.intent,
    intentHash: computeIntentHash(request.intent),
    allowed: request.allowed,
    reasons: request.reasons,
    policyDataHash: request.policyDataHash,
    expiration: request.expiration,
    digest: requestDigest(request),
    ...signerSet,
    thresholdBps: request.thresholdBps,
    registry: request.registry,
    registryBlock: request.registryBlock,
  };
}
