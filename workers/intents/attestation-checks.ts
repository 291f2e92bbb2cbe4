import { zeroAddress, type Hex } from 'viem';
import { z } from 'zod';
import {
  attestationSchema,
  consumeConsentSigner,
  CONSUME_CONSENT_MAX_SKEW_S,
  verifyAttestation,
  type Attestation,
  type BlsVerifier,
} from '../../core/attestation';
import { ProofgateError } from '../../core/errors';
import { addressSchema, bytes32Schema, hexDataSchema } from '../../core/hex';
import { attestationLedger, attestationValidUntilMs, type AttestationLedger } from '../../durable-objects/attestation-ledger';
import { getPolicy, PolicyNotFoundError } from '../policies/policy-store';
import type { OperatorRegistryChain } from '../operators/registry-snapshots';

/** Body of `POST /v1/attestations/verify`. */
export const attestationCheckBody = z.object({
  attestation: z.unknown(),
  /** What the caller expects; each given one must match the attestation. */
  chainId: z.number().int().positive().optional(),
  policyId: bytes32Schema.optional(),
  policyClient: addressSchema.optional(),
  /** Whether a deny verdict is refused (default true). */
  requireAllowed: z.boolean().optional(),
});

/** Body of `POST /v1/attestations/consume`: a check, and the policy client's consent to spend the attestation. */
export const attestationConsumeBody = attestationCheckBody.extend({
  /** EIP-712 `AttestationConsumption(bytes32 digest, uint64 issuedAt)` signed by the attestation's policy client. */
  consent: z
    .object({
      issuedAt: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
      signature: hexDataSchema.refine((s) => s.length <= 2 + 2 * 256, 'signature too long'),
    })
    .strict()
    .optional(),
});

/** An attestation check as requested. */
export type AttestationCheck = z.infer<typeof attestationCheckBody>;
/** An attestation consumption as requested. */
export type AttestationConsume = z.infer<typeof attestationConsumeBody>;

/** Why the gateway refused an attestation: core's reasons, and what only the gateway can say. */
export type CheckRejection = ReturnType<typeof verifyAttestation>['reasons'][number] | 'unknown_policy' | 'unknown_registry_snapshot';

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

/** An attestation bound to no policy client: nobody may spend it. */
export class UnboundAttestationError extends ProofgateError {
  constructor() {
    super('attestation_unbound', 'an attestation without a policy client cannot be consumed', 422);
  }
}

/** The consume request does not prove that the attestation's policy client asks for it. */
export class ConsumeUnauthorizedError extends ProofgateError {
  constructor(code: 'consume_consent_required' | 'stale_consume_consent' | 'not_policy_client', message: string) {
    super(code, message, code === 'not_policy_client' ? 403 : 401);
  }
}

/** Where attestations are judged: the policies (D1), the registry on chain, the single-use ledger, and the BLS implementation. */
export interface AttestationStores {
  db: D1Database;
  ledger: DurableObjectNamespace<AttestationLedger>;
  /** The registry on chain (a getter: only a well-formed attestation needs it). */
  registry: () => OperatorRegistryChain;
  verifier: () => Promise<BlsVerifier>;
}

type Judgement = { valid: boolean; reasons: CheckRejection[]; attestation: Attestation | null };

/**
 * Judges an attestation as every verifier must: against the registry snapshot it names (read from
 * chain), under the quorum of its policy as this gateway stores it (the policy id is the hash of the
 * content that holds the threshold), never the attestation's own word for either.
 */
async function judge(stores: AttestationStores, req: AttestationCheck, nowMs: number, consumed: (digest: Hex) => boolean): Promise<Judgement> {
  const parsed = attestationSchema.safeParse(req.attestation);
  if (!parsed.success) return { valid: false, reasons: ['malformed_attestation'], attestation: null };
  const a = parsed.data;
  let policyThresholdBps: number;
  try {
    policyThresholdBps = (await getPolicy(stores.db, a.policyId)).thresholdBps;
  } catch (err) {
    if (err instanceof PolicyNotFoundError) return { valid: false, reasons: ['unknown_policy'], attestation: a };
    throw err;
  }
  const registry = await stores.registry().at(a.registry, a.registryBlock);
  if (registry === null) return { valid: false, reasons: ['unknown_registry_snapshot'], attestation: a };
  const verification = verifyAttestation(a, registry, {
    now: BigInt(Math.floor(nowMs / 1000)),
    policyThresholdBps,
    ...(req.chainId !== undefined ? { expectedChainId: req.chainId } : {}),
    ...(req.policyId !== undefined ? { expectedPolicyId: req.policyId } : {}),
    ...(req.policyClient !== undefined ? { expectedPolicyClient: req.policyClient } : {}),
    ...(req.requireAllowed !== undefined ? { requireAllowed: req.requireAllowed } : {}),
    consumed,
    verifier: await stores.verifier(),
  });
  return { ...verification, attestation: a };
}

/** Verifies an attestation against the registry snapshot it names, its policy's quorum, and the single-use ledger. */
export async function checkAttestation(
  stores: AttestationStores,
  req: AttestationCheck,
  nowMs: number,
): Promise<{ valid: boolean; reasons: CheckRejection[] }> {
  const digest = attestationSchema.safeParse(req.attestation).data?.digest.toLowerCase();
  const consumed = digest !== undefined && (await attestationLedger(stores.ledger, digest).consumedAt()) !== null;
  const { valid, reasons } = await judge(stores, req, nowMs, (d) => consumed && d === digest);
  return { valid, reasons };
}

/**
 * Consumes an attestation for its policy client: the request must carry the policy client's fresh
 * EIP-712 consent over the attestation's digest; then the attestation must verify; then
 * exactly one call per attestation ever succeeds. A refused request changes nothing.
 */
export async function consumeAttestation(
  stores: AttestationStores,
  req: AttestationConsume,
  nowMs: number,
): Promise<{ consumed: true; digest: Hex; consumedAt: string }> {
  const parsed = attestationSchema.safeParse(req.attestation);
  if (!parsed.success) throw new InvalidAttestationError(['malformed_attestation']);
  const a = parsed.data;
  if (a.policyClient.toLowerCase() === zeroAddress) throw new UnboundAttestationError();
  await requirePolicyClient(a, req.consent, nowMs);
  const { valid, reasons } = await judge(stores, req, nowMs, () => false);
  if (!valid) throw new InvalidAttestationError(reasons);
  const digest = a.digest.toLowerCase() as Hex;
  const result = await attestationLedger(stores.ledger, digest).consume(attestationValidUntilMs(a.expiration));
  if (result.expired) throw new InvalidAttestationError(['expired']);
  if (!result.consumed) throw new AttestationAlreadyUsedError(result.consumedAt);
  return { consumed: true, digest, consumedAt: new Date(result.consumedAt).toISOString() };
}

async function requirePolicyClient(a: Attestation, consent: AttestationConsume['consent'], nowMs: number): Promise<void> {
  if (!consent) {
    throw new ConsumeUnauthorizedError('consume_consent_required', "consuming needs the policy client's signed consent (see README)");
  }
  if (Math.abs(nowMs / 1000 - consent.issuedAt) > CONSUME_CONSENT_MAX_SKEW_S) {
    throw new ConsumeUnauthorizedError('stale_consume_consent', `issuedAt is more than ${CONSUME_CONSENT_MAX_SKEW_S}s from the gateway's clock`);
  }
  const signer = await consumeConsentSigner(a.digest, a.chainId, consent);
  if (signer === null || signer.toLowerCase() !== a.policyClient.toLowerCase()) {
    throw new ConsumeUnauthorizedError('not_policy_client', "the consent is not signed by the attestation's policy client");
  }
}
