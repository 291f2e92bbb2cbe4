import { HTTPFacilitatorClient } from '@x402/core/http';
import type { PaymentPayload, PaymentRequirements } from '@x402/core/types';
import type { Hex } from 'viem';

/** What came of one settlement attempt. `unknown` (timeout, network) means the transfer may still land. */
export type SettlementOutcome =
  | { outcome: 'settled'; transaction: Hex; network: string; payer: string }
  | { outcome: 'rejected'; reason: string }
  | { outcome: 'unknown'; error: string };

/** Asks the facilitator to settle a payment. Never throws: an attempt that cannot tell is `unknown`. */
export async function settleWithFacilitator(
  facilitatorUrl: string,
  payload: PaymentPayload,
  requirements: PaymentRequirements,
  timeoutMs = 30_000,
): Promise<SettlementOutcome> {
  const client = new HTTPFacilitatorClient({ url: facilitatorUrl, timeoutMs });
  try {
    const r = await client.settle(payload, requirements);
    if (r.success && r.transaction) return { outcome: 'settled', transaction: r.transaction as Hex, network: r.network, payer: r.payer ?? '' };
    return { outcome: 'rejected', reason: r.errorReason ?? 'settlement_failed' };
  } catch (err) {
    // A facilitator that answered with a definite refusal (4xx with a reason) is a rejection; anything
    // else (timeout, connection error, 5xx) leaves the outcome open.
    const e = err as { name?: string; message?: string; errorReason?: string; statusCode?: number };
    if (e?.name === 'SettleError' && e.errorReason && typeof e.statusCode === 'number' && e.statusCode < 500) {
      return { outcome: 'rejected', reason: e.errorReason };
    }
    return { outcome: 'unknown', error: `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}` };
  }
}
