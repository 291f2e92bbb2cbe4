import { ProofgateError } from '../../core/errors';
import { PaymentRejectedError, readPaymentHeader } from '../../core/x402';
import { nonceLedger } from '../../durable-objects/nonce-ledger';
import type { Env } from '../env';
import { claimedPayer } from './payment-gate';
import { loadReply, paidResponse, repliesBucket } from './paid-reply';

/** No delivered answer of this payment is available to whoever presents this authorization. */
export class PaymentResultNotFoundError extends ProofgateError {
  constructor(id: string) {
    super('payment_result_not_found', `no delivered result of payment ${id} for this payment authorization`, 404);
  }
}

/**
 * The answer a used payment authorization bought, again: for a payer whose answer was lost (a
 * dropped connection, a restarted gateway) after the payment was charged. x402 refuses a payment
 * authorization presented twice (`payment_already_used`), so the payer fetches its answer here by
 * presenting the same authorization; only its own signature unlocks it, and it is never charged again.
 */
export async function deliveredPaymentResult(env: Env, request: Request, id: string): Promise<Response> {
  let signature: unknown;
  try {
    signature = (readPaymentHeader(request.headers)?.payload as { signature?: unknown } | undefined)?.signature;
  } catch (err) {
    if (err instanceof PaymentRejectedError) throw new ProofgateError(err.code, err.message, 400);
    throw err;
  }
  const payer = claimedPayer(request.headers);
  if (typeof signature !== 'string' || !payer) {
    throw new ProofgateError(
      'payment_proof_required',
      'send the payment authorization (PAYMENT-SIGNATURE or X-PAYMENT) that paid for this result',
      401,
    );
  }
  const found = await nonceLedger(env.NONCE_LEDGER, payer).deliveredResult(id, signature);
  const result = found && (await loadReply(repliesBucket(env), found.reply));
  if (!found || result === null) throw new PaymentResultNotFoundError(id);
  return paidResponse(result, found.payment, { network: found.network, payer: found.payer, replayed: true });
}
