import type { IRequest } from 'itty-router';
import { ProofgateError } from '../../core/errors';
import { isBytes32 } from '../../core/hex';
import { inferenceQuorum } from '../../durable-objects/inference-quorum';
import type { Env } from '../env';
import { jsonResponse } from '../http/problem';

/** No quorum inference request has that id (or its evidence was erased after its retention). */
export class QuorumRequestNotFoundError extends ProofgateError {
  constructor(id: string) {
    super('quorum_request_not_found', `no quorum inference request ${id}`, 404);
  }
}

/**
 * GET /v1/inference-quorums/:requestId: a quorum inference request's evidence, whatever its outcome:
 * every operator's receipt and output hash, the reference, who agreed and signed, and the attestation.
 */
export async function handleGetInferenceQuorum(req: IRequest, env: Env): Promise<Response> {
  const id = String(req.params['requestId']).toLowerCase();
  if (!isBytes32(id)) throw new QuorumRequestNotFoundError(id.slice(0, 80));
  const view = await inferenceQuorum(env.INFERENCE_QUORUM, id).view();
  if (!view) throw new QuorumRequestNotFoundError(id);
  return jsonResponse(view);
}
