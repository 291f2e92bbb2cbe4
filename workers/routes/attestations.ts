import type { Env } from '../env';
import type { RouteRequest } from '../http/middleware';
import { jsonResponse } from '../http/problem';
import { checkAttestation, consumeAttestation, type AttestationCheck, type AttestationStores } from '../intents/attestation-checks';

const stores = (env: Env): AttestationStores => ({ db: env.DB, tasks: env.TASK_QUORUM, ledger: env.ATTESTATION_LEDGER });

/** POST /v1/attestations/verify: `{valid, reasons}` against the registry snapshot of the attestation's task and the single-use ledger. */
export async function handleVerifyAttestation(req: RouteRequest<AttestationCheck>, env: Env): Promise<Response> {
  return jsonResponse(await checkAttestation(stores(env), req.content, Date.now()));
}

/** POST /v1/attestations/consume: verifies and uses the attestation once; again → 409 `attestation_already_used`. */
export async function handleConsumeAttestation(req: RouteRequest<AttestationCheck>, env: Env): Promise<Response> {
  return jsonResponse(await consumeAttestation(stores(env), req.content, Date.now()));
}
