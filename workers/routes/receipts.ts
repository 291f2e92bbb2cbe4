import type { IRequest } from 'itty-router';
import { InvalidRequestError } from '../../core/errors';
import { isBytes32 } from '../../core/hex';
import type { Env } from '../env';
import { jsonResponse } from '../http/problem';
import { loadReceipt } from '../inference/receipt-store';

/** GET /v1/receipts/:requestId: a stored, verified receipt. */
export async function handleGetReceipt(req: IRequest, env: Env): Promise<Response> {
  const id = String(req.params['requestId']);
  if (!isBytes32(id)) throw new InvalidRequestError('invalid_request_id', 'request ids are 0x followed by 64 hex digits');
  return jsonResponse(await loadReceipt({ db: env.DB, fallback: env.REPLIES ?? env.MODELS }, id));
}
