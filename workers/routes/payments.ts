import type { IRequest } from 'itty-router';
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { InvalidRequestError, ProofgateError } from '../../core/errors';
import { payments } from '../../schema';
import type { Env } from '../env';
import { jsonResponse } from '../http/problem';
import { deliveredPaymentResult } from '../payments/payment-result';

/** GET /v1/payments/:id: a payment's state (reserved, settling, pending, settled, released, failed), why, and its transaction. */
export async function handleGetPayment(req: IRequest, env: Env): Promise<Response> {
  const id = paymentId(req);
  const rows = await drizzle(env.DB).select().from(payments).where(eq(payments.id, id)).limit(1);
  const p = rows[0];
  if (!p) throw new ProofgateError('payment_not_found', `no payment ${id}`, 404);
  return jsonResponse({
    id: p.id,
    state: p.state,
    settlement: p.settlement,
    network: p.network,
    asset: p.asset,
    payer: p.payer,
    payTo: p.payTo,
    amount: p.amount,
    nonce: p.nonce,
    model: p.model,
    version: p.version,
    requestId: p.requestId,
    transaction: p.transaction,
    error: p.error,
    scheme: p.scheme,
    charged: p.charged,
    attempts: p.attempts,
    nextAttemptAt: p.nextAttemptAt === null ? null : new Date(p.nextAttemptAt).toISOString(),
    createdAt: new Date(p.createdAt).toISOString(),
    updatedAt: new Date(p.updatedAt).toISOString(),
  });
}

/** GET /v1/payments/:id/result: the answer this payment bought, again, to whoever presents its payment authorization. */
export async function handleGetPaymentResult(req: IRequest, env: Env): Promise<Response> {
  return deliveredPaymentResult(env, req, paymentId(req));
}

function paymentId(req: IRequest): string {
  const id = String(req.params['id']);
  if (!/^pay_[0-9a-f]{32}$/.test(id)) throw new InvalidRequestError('invalid_payment_id', 'payment ids look like pay_ followed by 32 hex digits');
  return id;
}
