import type { PaymentPayload, PaymentRequirements } from '@x402/core/types';
import type { Hex } from 'viem';
import { z } from 'zod';

/**
 * What came of one settlement attempt. `refused`: the facilitator said no before anything reached the
 * chain (nothing moved, the authorization may be used again). `unknown`: the transfer may have
 * landed or may still land (timeout, dropped connection, 5xx, broadcast without a receipt); only
 * the chain can tell. `transaction` is null when a zero amount settled without one.
 */
export type SettlementOutcome =
  | { outcome: 'settled'; transaction: Hex | null }
  | { outcome: 'refused'; reason: string }
  | { outcome: 'unknown'; error: string };

/** What the facilitator says, before any work, about settling a payment. */
export type VerificationOutcome = { outcome: 'valid' } | { outcome: 'invalid'; reason: string } | { outcome: 'unavailable'; error: string };

/** x402's reason for a transaction that was broadcast but whose receipt was not seen. */
export const settlementPendingReason = 'settlement_pending';

const txHash = z.string().regex(/^0x[0-9a-fA-F]{64}$/);
const settleResponse = z.object({
  success: z.boolean(),
  transaction: z.string().optional(),
  errorReason: z.string().optional(),
});
const verifyResponse = z.object({ isValid: z.boolean(), invalidReason: z.string().optional() });
const errorBody = z.object({ error: z.string().optional(), errorReason: z.string().optional(), invalidReason: z.string().optional() });

// The official HTTPFacilitatorClient folds the HTTP status into an error message, and the status is
// what separates a refusal (4xx) from an outcome that is still open (5xx); so these two calls are
// made here with fetch, with the official wire format ({x402Version, paymentPayload, paymentRequirements}).
async function post(url: string, body: unknown, timeoutMs: number): Promise<{ status: number; json: unknown }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json };
}

// Outcomes are stored with payments and shown by GET /v1/payments/{id}: they name what happened (an
// error's kind, an x402 reason code), never a message that could carry hosts, URLs or node output.
function describe(err: unknown): string {
  const name = (err as { name?: unknown })?.name;
  return `facilitator unreachable (${typeof name === 'string' && /^[A-Za-z]{1,40}$/.test(name) ? name : 'Error'})`;
}

const reasonCode = (reason: string | undefined): string | undefined => (reason && /^[A-Za-z0-9_.:-]{1,100}$/.test(reason) ? reason : undefined);

/** Why a 4xx answer refused: the x402 reason if the body has one, else the status. */
function refusalReason(status: number, json: unknown): string {
  const body = errorBody.safeParse(json);
  return (body.success && reasonCode(body.data.errorReason ?? body.data.invalidReason ?? body.data.error)) || `http_${status}`;
}

/**
 * Asks the facilitator to settle a payment. Never throws. Any 4xx, or `success: false` without a
 * broadcast, is a refusal; `success: false` with reason `settlement_pending`, a 5xx, a timeout or a
 * dropped connection leave the outcome open. `success: true` without a transaction is a settlement
 * only when the requirements charge 0 (x402 `upto` settles a zero amount without a transaction).
 */
export async function settleWithFacilitator(
  facilitatorUrl: string,
  payload: PaymentPayload,
  requirements: PaymentRequirements,
  timeoutMs = 30_000,
): Promise<SettlementOutcome> {
  let answer: { status: number; json: unknown };
  try {
    answer = await post(`${facilitatorUrl}/settle`, { x402Version: 2, paymentPayload: payload, paymentRequirements: requirements }, timeoutMs);
  } catch (err) {
    return { outcome: 'unknown', error: describe(err) };
  }
  const { status, json } = answer;
  const body = settleResponse.safeParse(json);
  if (status >= 400 && status < 500) {
    if (body.success && body.data.errorReason === settlementPendingReason) return { outcome: 'unknown', error: settlementPendingReason };
    return { outcome: 'refused', reason: refusalReason(status, json) };
  }
  if (status < 200 || status >= 300 || !body.success) return { outcome: 'unknown', error: `facilitator answered HTTP ${status}` };
  const { success, transaction, errorReason } = body.data;
  if (success) {
    if (transaction && txHash.safeParse(transaction).success) return { outcome: 'settled', transaction: transaction as Hex };
    if (!transaction && BigInt(requirements.amount) === 0n) return { outcome: 'settled', transaction: null };
    return { outcome: 'unknown', error: 'facilitator reported success without a transaction' };
  }
  if (errorReason === settlementPendingReason) return { outcome: 'unknown', error: settlementPendingReason };
  return { outcome: 'refused', reason: reasonCode(errorReason) ?? 'settlement_failed' };
}

/**
 * Asks the facilitator whether it would settle a payment (x402 `/verify`: signature, funds, nonce and
 * a simulation of the transfer), before any work. Never throws.
 */
export async function verifyWithFacilitator(
  facilitatorUrl: string,
  payload: PaymentPayload,
  requirements: PaymentRequirements,
  timeoutMs = 10_000,
): Promise<VerificationOutcome> {
  let answer: { status: number; json: unknown };
  try {
    answer = await post(`${facilitatorUrl}/verify`, { x402Version: 2, paymentPayload: payload, paymentRequirements: requirements }, timeoutMs);
  } catch (err) {
    return { outcome: 'unavailable', error: describe(err) };
  }
  const { status, json } = answer;
  if (status >= 400 && status < 500) return { outcome: 'invalid', reason: refusalReason(status, json) };
  const body = verifyResponse.safeParse(json);
  if (status < 200 || status >= 300 || !body.success) return { outcome: 'unavailable', error: `facilitator answered HTTP ${status}` };
  return body.data.isValid ? { outcome: 'valid' } : { outcome: 'invalid', reason: reasonCode(body.data.invalidReason) ?? 'invalid_payment' };
}
