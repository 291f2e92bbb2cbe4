import { ProofgateError } from '../../core/errors';
import { paidResponse, storeReply } from './paid-reply';
import { paymentRequiredResponse, type ReservedPayment } from './payment-gate';

/**
 * The call failed: the payment authorization is never submitted and becomes usable again. The reason
 * kept with the payment is the error's code, never its text (which may name backends or hosts).
 */
export async function releasePayment(reserved: ReservedPayment, error: unknown): Promise<void> {
  const code = error instanceof ProofgateError ? error.code : 'internal_error';
  await reserved.ledger.release(reserved.reservation, `the call failed (${code}); nothing was charged`);
}

/** How a delivered call is charged. */
export interface SettleOptions {
  /**
   * Atomic units to charge, decided after the run (metered calls): at most `reserved.maxAmount`, and
   * exactly it for an `exact` payment; 0 settles with no transaction at all. Default: the fixed price.
   */
  amount?: bigint | string;
}

/**
 * The call produced `body` (a JSON object): charge for it and answer. Sync: the payer's NonceLedger
 * settles before the answer, and the result is returned only if the transfer landed (refused → 402
 * `settlement_failed`, result withheld, authorization released) or may have landed (open outcome →
 * the result, with the payment pending; it is never asked for again). Async: the result now, the
 * ledger's alarm settles. Either way the settlement belongs to the ledger, so a client that
 * disconnects cannot stop it. The reply carries `payment: {id, scheme, state, maxAmount, charged,
 * transaction}`.
 */
export async function settlePayment(
  reserved: ReservedPayment,
  requestId: string,
  body: Record<string, unknown>,
  opts: SettleOptions = {},
): Promise<Response> {
  const charge = chargeOf(reserved, opts.amount);
  const resultJson = JSON.stringify(body);
  const reply = await storeReply(reserved.replies, resultJson);
  const delivery = { requestId, reply, charge: charge.toString() };
  const result =
    reserved.price.settlement === 'async'
      ? await reserved.ledger.defer(reserved.reservation, delivery)
      : await reserved.ledger.settle(reserved.reservation, delivery);
  const meta = { network: reserved.requirements.network, payer: reserved.payment.payer, replayed: false };
  switch (result.outcome) {
    case 'settled':
    case 'pending':
      return paidResponse(resultJson, result.payment, meta);
    case 'refused':
      return paymentRequiredResponse(
        reserved.resource,
        reserved.offers,
        'settlement_failed',
        `settlement was refused (${result.reason}); the result is withheld and nothing was charged`,
      );
    case 'not_reserved':
      if (reply.bodyRef) await reserved.replies.delete(reply.bodyRef);
      return paymentRequiredResponse(
        reserved.resource,
        reserved.offers,
        'reservation_expired',
        `the payment's reservation ended (${result.state ?? 'gone'}) before the call finished; the result is withheld and nothing was charged`,
      );
  }
}

function chargeOf(reserved: ReservedPayment, amount: bigint | string | undefined): bigint {
  if (amount === undefined) {
    if (reserved.price.kind !== 'fixed') throw new ProofgateError('charge_required', 'a metered call must be settled with the amount it cost', 500);
    return BigInt(reserved.price.amount);
  }
  const charge = BigInt(amount);
  if (charge < 0n || charge > reserved.maxAmount || (reserved.scheme === 'exact' && charge !== reserved.maxAmount)) {
    throw new ProofgateError('invalid_charge', `cannot charge ${charge} on a ${reserved.scheme} payment of ${reserved.maxAmount}`, 500);
  }
  return charge;
}
