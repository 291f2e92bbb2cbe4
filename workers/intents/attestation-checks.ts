import type { Hex } from 'viem';
import { z } from 'zod';
import { verifyAttestation, type AttestationVerification } from '../../core/attestation';
import { ProofgateError } from '../../core/errors';
import { addressSchema, bytes32Schema, isBytes32 } from '../../core/hex';
import { attestationLedger, type AttestationLedger } from '../../durable-objects/attestation-ledger';
import { taskQuorum, type TaskQuorum } from '../../durable-objects/task-quorum';
import { activeOperatorSnapshot, toRegistry } from '../operators/operator-registry';

/** Body of `POST /v1/attestations/verify` and `/consume`. */
export const attestationCheckBody = z.object({
  attestation: z.unknown(),
  /** What the caller expects; each given one must match the attestation. */
  chainId: z.number().int().positive().optional(),
  policyId: bytes32Schema.optional(),
  policyClient: addressSchema.optional(),
  /** Whether a deny verdict is refused (default true). */
  requireAllowed: z.boolean().optional(),
});

/** The attestation does not verify; `reasons` says why. */
export class InvalidAttestationError extends ProofgateError {
  constructor(reasons: string[]) {
    super('invalid_attestation', `attestation refused: ${reasons.join(', ')}`, 422, { reasons });
  }
}

/** The attestation was consumed before. */
export class AttestationAlreadyUsedError extends ProofgateError {
  constructor(consumedAt: number) {
    super('attestation_already_used', 'this attestation was already consumed', 409, { consumedAt: new Date(consumedAt).toISOString() });
  }
}

function claimedDigest(attestation: unknown): Hex | null {
  const digest = (attestation as { digest?: unknown } | null)?.digest;
  return isBytes32(digest) ? (digest.toLowerCase() as Hex) : null;
}

/** Where attestations are checked: D1 (the current registry), the tasks (their snapshots), the single-use ledger. */
export interface AttestationStores {
  db: D1Database;
  tasks: DurableObjectNamespace<TaskQuorum>;
  ledger: DurableObjectNamespace<AttestationLedger>;
}

// The registry an attestation is judged by: the snapshot of the task it claims (the keys and stakes
// it was signed under, so later stake changes do not void it), or, for a task this gateway does not
// know, the current registry of active operators.
async function registryFor(stores: AttestationStores, attestation: unknown) {
  const taskId = (attestation as { taskId?: unknown } | null)?.taskId;
  const snapshot = isBytes32(taskId) ? await taskQuorum(stores.tasks, taskId).registrySnapshot() : null;
  return toRegistry(snapshot ?? (await activeOperatorSnapshot(stores.db)));
}

/** An attestation check as requested. */
export type AttestationCheck = z.infer<typeof attestationCheckBody>;

async function check(
  stores: AttestationStores,
  req: AttestationCheck,
  nowMs: number,
  consumedDigest: Hex | null,
): Promise<AttestationVerification & { digest: Hex | null }> {
  const registry = await registryFor(stores, req.attestation);
  const verification = verifyAttestation(req.attestation, registry, {
    now: BigInt(Math.floor(nowMs / 1000)),
    ...(req.chainId !== undefined ? { expectedChainId: req.chainId } : {}),
    ...(req.policyId !== undefined ? { expectedPolicyId: req.policyId } : {}),
    ...(req.policyClient !== undefined ? { expectedPolicyClient: req.policyClient } : {}),
    ...(req.requireAllowed !== undefined ? { requireAllowed: req.requireAllowed } : {}),
    consumed: (digest) => consumedDigest !== null && digest.toLowerCase() === consumedDigest,
  });
  return { ...verification, digest: claimedDigest(req.attestation) };
}

/**
 * Verifies an attestation against the registry snapshot of its task (signature, digest, expiry,
 * chain, policy, quorum) and the single-use ledger.
 */
export async function checkAttestation(stores: AttestationStores, req: AttestationCheck, nowMs: number): Promise<AttestationVerification> {
  const digest = claimedDigest(req.attestation);
  const consumed = digest !== null && (await attestationLedger(stores.ledger, digest).consumedAt()) !== null;
  const { valid, reasons } = await check(stores, req, nowMs, consumed ? digest : null);
  return { valid, reasons };
}

/** Verifies an attestation and consumes it: exactly one call per attestation ever succeeds. */
export async function consumeAttestation(
  stores: AttestationStores,
  req: AttestationCheck,
  nowMs: number,
): Promise<{ consumed: true; digest: Hex; consumedAt: string }> {
  const { valid, reasons, digest } = await check(stores, req, nowMs, null);
  if (!valid || digest === null) throw new InvalidAttestationError(reasons);
  const result = await attestationLedger(stores.ledger, digest).consume(nowMs);
  if (!result.consumed) throw new AttestationAlreadyUsedError(result.consumedAt);
  return { consumed: true, digest, consumedAt: new Date(result.consumedAt).toISOString() };
}
