/**
 * `POST /v1/attestations/verify` for inference attestations: judged as every verifier must, against
 * the registry snapshot the attestation names (read from chain), on the chain of this gateway's
 * registry, and under the quorum the relying party requires (given, or else the strictest quorum any
 * published version of the model declares), never the attestation's own word for either.
 */
import { max, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { z } from 'zod';
import {
  inferenceAttestationSchema,
  outputToleranceSchema,
  verifyInferenceAttestation,
  type BlsVerifier,
  type InferenceAttestationRejection,
} from '../../../core/attestation';
import { ProofgateError } from '../../../core/errors';
import { bytes32Schema } from '../../../core/hex';
import { modelVersions } from '../../../schema';
import { attestationCheckBody } from '../../intents/attestation-checks';
import type { OperatorRegistryChain } from '../../operators/registry-snapshots';

/** Body of `POST /v1/attestations/verify`: an intent check, plus what a relying party expects of an inference attestation. */
export const attestationVerifyBody = attestationCheckBody.extend({
  modelSha256: bytes32Schema.optional(),
  inputHash: bytes32Schema.optional(),
  outputHash: bytes32Schema.optional(),
  /** The quorum required (basis points); default: the strictest any published version of the model declares. */
  thresholdBps: z.number().int().min(1).max(10_000).optional(),
  /** The loosest agreement accepted (default: any). */
  maxTolerance: outputToleranceSchema.optional(),
});

/** An attestation check as requested. */
export type AttestationVerify = z.infer<typeof attestationVerifyBody>;

/**
 * Inference attestations are used once per relying contract, on chain (AttestationValidator.consumeInference):
 * they have no policy client whose consent the gateway's single-use ledger could ask for.
 */
export class InferenceConsumeOnChainError extends ProofgateError {
  constructor() {
    super(
      'consume_on_chain',
      'an inference attestation is used once per relying contract, on chain (AttestationValidator.consumeInference); verify it here with /v1/attestations/verify',
      422,
    );
  }
}

/** Why the gateway refused an inference attestation: core's reasons, and what only the gateway can say. */
export type InferenceCheckRejection = InferenceAttestationRejection | 'unknown_model' | 'unknown_registry_snapshot';

/** Where inference attestations are judged: the models (D1), the registry on chain, and the BLS implementation. */
export interface InferenceAttestationStores {
  db: D1Database;
  registry: () => OperatorRegistryChain;
  verifier: () => Promise<BlsVerifier>;
}

/** Verifies an inference attestation; `{valid, reasons}` (reasons empty exactly when valid). */
export async function checkInferenceAttestation(
  stores: InferenceAttestationStores,
  req: AttestationVerify,
  nowMs: number,
): Promise<{ valid: boolean; reasons: InferenceCheckRejection[] }> {
  const parsed = inferenceAttestationSchema.safeParse(req.attestation);
  if (!parsed.success) return { valid: false, reasons: ['malformed_attestation'] };
  const a = parsed.data;
  const required = req.thresholdBps ?? (await strictestQuorum(stores.db, a.modelSha256));
  if (required === null) return { valid: false, reasons: ['unknown_model'] };
  const chain = stores.registry();
  const registry = await chain.at(a.registry, a.registryBlock);
  if (registry === null) return { valid: false, reasons: ['unknown_registry_snapshot'] };
  return verifyInferenceAttestation(a, registry, {
    now: BigInt(Math.floor(nowMs / 1000)),
    requiredThresholdBps: required,
    // An attestation is about the chain its registry is on: the one this gateway reads.
    expectedChainId: req.chainId ?? (await chain.chainId()),
    ...(req.modelSha256 ? { expectedModelSha256: req.modelSha256 } : {}),
    ...(req.inputHash ? { expectedInputHash: req.inputHash } : {}),
    ...(req.outputHash ? { expectedOutputHash: req.outputHash } : {}),
    ...(req.maxTolerance ? { maxTolerance: req.maxTolerance } : {}),
    verifier: await stores.verifier(),
  });
}

async function strictestQuorum(db: D1Database, modelSha256: string): Promise<number | null> {
  const [row] = await drizzle(db)
    .select({ bps: max(modelVersions.quorumThresholdBps) })
    .from(modelVersions)
    .where(eq(modelVersions.sha256, modelSha256.toLowerCase()));
  return row?.bps ?? null;
}
