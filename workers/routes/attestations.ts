import type { IRequest } from 'itty-router';
import type { Env } from '../env';
import { jsonResponse } from '../http/problem';
import { readJsonBody } from '../http/request-body';
import { checkAttestation, consumeAttestation, type AttestationStores } from '../authorization/attestation-checks';

const MAX_ATTESTATION_BYTES = 256 * 1024;

const stores = (env: Env): AttestationStores => ({ db: env.DB, tasks: env.TASK_QUORUM, ledger: env.ATTESTATION_LEDGER });

/** POST /v1/attestations/verify: `{valid, reasons}` against the registry snapshot of the attestation's task and the single-use ledger. */
export async function handleVerifyAttestation(req: IRequest, env: Env): Promise<Response> {
  return jsonResponse(await checkAttestation(stores(env), await readJsonBody(req, MAX_ATTESTATION_BYTES), Date.now()));
}

/** POST /v1/attestations/consume: verifies and uses the attestation once; again → 409 `attestation_already_used`. */
export async function handleConsumeAttestation(req: IRequest, env: Env): Promise<Response> {
  return jsonResponse(await consumeAttestation(stores(env), await readJsonBody(req, MAX_ATTESTATION_BYTES), Date.now()));
}
