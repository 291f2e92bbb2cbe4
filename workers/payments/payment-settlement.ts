import { encodePaymentResponseHeader } from '@x402/core/http';
import type { PaymentPayload } from '@x402/core/types';
import { paymentResponseHeader, settleWithFacilitator } from '../../core/x402';
import type { CachedResponse } from '../../durable-objects/nonce-ledger';
import { paymentRequiredResponse, type ReservedPayment } from './payment-gate';

/** The call failed: the payment authorization is never submitted and becomes usable again. */
export async function releasePayment(reserved: ReservedPayment, reason: string): Promise<void> {
  await reserved.ledger.release(reserved.payment.nonceKey, reason);
}

/**
 * The call produced `body`: charge for it and answer. Sync: settle first and return the result only
 * if the transfer landed (refused → 402, result withheld, authorization released); an open outcome
 * (timeout) delivers the result and leaves the payment pending, never asking again. Async: deliver
 * now; the ledger's alarm settles.
 */
export async function settlePayment(reserved: ReservedPayment, requestId: string, body: Record<string, unknown>): Promise<Response> {
  const { ledger, payment, requirements, config, recordId } = reserved;
  if (reserved.settlement === 'async') {
    const cached = cachedJson({ ...body, payment: { id: recordId, state: 'pending' } }, {});
    await ledger.pending(payment.nonceKey, requestId, cached, null);
    return toResponse(cached);
  }
  const result = await settleWithFacilitator(config.facilitatorUrl, payment.paymentPayload as PaymentPayload, requirements, config.settleTimeoutMs);
  if (result.outcome === 'settled') {
    const header = encodePaymentResponseHeader({
      success: true,
      transaction: result.transaction,
      network: requirements.network,
      payer: payment.payer,
    } as never);
    const cached = cachedJson(
      { ...body, payment: { id: recordId, state: 'settled', transaction: result.transaction } },
      { [paymentResponseHeader]: header },
    );
    await ledger.settled(payment.nonceKey, requestId, result.transaction, cached);
    return toResponse(cached);
  }
  if (result.outcome === 'rejected') {
    await ledger.release(payment.nonceKey, `settlement refused: ${result.reason}`);
    return paymentRequiredResponse(
      reserved.resource,
      requirements,
      'settlement_failed',
      `settlement was refused (${result.reason}); the result is withheld and nothing was charged`,
    );
  }
  const cached = cachedJson({ ...body, payment: { id: recordId, state: 'pending' } }, {});
  await ledger.pending(payment.nonceKey, requestId, cached, result.error);
  return toResponse(cached);
}

function cachedJson(body: unknown, headers: Record<string, string>): CachedResponse {
  return { status: 200, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

function toResponse(c: CachedResponse): Response {
  return new Response(c.body, { status: c.status, headers: c.headers });
}
