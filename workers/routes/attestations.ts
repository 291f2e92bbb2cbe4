import { getWasmBlsVerifier } from '../../bls-wasm/worker';
import type { Env } from '../env';
import type { RouteRequest } from '../http/middleware';
import { jsonResponse } from '../http/problem';
import {
  checkAttestation,
  consumeAttestation,
  type AttestationCheck,
  type AttestationConsume,
  type AttestationStores,
} from '../intents/attestation-checks';
import { operatorRegistryChain } from '../operators/registry-snapshots';
import { isInferenceAttestationClaim } from '../../core/attestation';
import { InferenceConsumeOnChainError, checkInferenceAttestation, type AttestationVerify } from '../inference/quorum/attestation-checks';

const stores = (env: Env): AttestationStores => ({
  db: env.DB,
  ledger: env.ATTESTATION_LEDGER,
  registry: () => operatorRegistryChain(env),
  verifier: getWasmBlsVerifier,
});

/** POST /v1/attestations/verify: `{valid, reasons}` against the registry snapshot the attestation names, its policy's quorum and the single-use ledger. */
export async function handleVerifyAttestation(req: RouteRequest<AttestationCheck & AttestationVerify>, env: Env): Promise<Response> {
  // Inference attestations (quorum mode) are judged by their own rules: inference/quorum/attestation-checks.ts.
  if (isInferenceAttestationClaim(req.content.attestation))
    return jsonResponse(await checkInferenceAttestation(stores(env), req.content, Date.now()));
  return jsonResponse(await checkAttestation(stores(env), req.content, Date.now()));
}

/** POST /v1/attestations/consume: the policy client's signed authorization, then verifies and uses the attestation once; again → 409 `attestation_already_used`. */
export async function handleConsumeAttestation(req: RouteRequest<AttestationConsume>, env: Env): Promise<Response> {
  if (isInferenceAttestationClaim(req.content.attestation)) throw new InferenceConsumeOnChainError();
  return jsonResponse(await consumeAttestation(stores(env), req.content, Date.now()));
}
