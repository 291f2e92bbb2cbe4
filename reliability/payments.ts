import { generatePaymentId, PAYMENT_IDENTIFIER } from '@x402/extensions/payment-identifier';
import type { PaymentRequirements } from '@x402/core/types';
import type { Address, Hex, LocalAccount } from 'viem';
import { legacyPaymentHeader, paymentHeader, requirementsOf, type AuthorizationOverrides } from '../test/support/x402-payer';
import { d1Rows } from '../test/support/stored-state';
import { pollUntil } from '../test/support/poll';
import { send, type Answer, type SuiteContext } from './suite-context';

/** One signed payment authorization the suite presents (maybe many times), with the call it was meant for. */
export interface Authorization {
  payer: LocalAccount;
  nonce: Hex;
  /** PAYMENT-SIGNATURE (x402 v2) carrying `paymentId`. */
  header: string;
  /** The same authorization without the payment-identifier, and in legacy v1 X-PAYMENT form. */
  bare: string;
  legacy: string;
  paymentId: string;
  model: string;
  body: string;
}

/** tiny-add's inputs; `x` varies the request (and so its input hash). */
export function addBody(x: number): string {
  return JSON.stringify({
    inputs: { a: { type: 'float32', dims: [1, 4], data: [x, 2, 3, 4] }, b: { type: 'float32', dims: [1, 4], data: [1, 1, 1, 1] } },
  });
}

/** The URL of a model's inference route on the stack. */
export function inferUrl(ctx: SuiteContext, model: string, query = ''): string {
  return `${ctx.stack.gateway}/v1/models/${model}/infer${query}`;
}

const requirementsCache = new Map<string, Promise<PaymentRequirements>>();

/** The exact-scheme requirements a model asks for (asked once per model). */
export function requirementsFor(ctx: SuiteContext, model: string): Promise<PaymentRequirements> {
  let r = requirementsCache.get(model);
  if (!r) {
    r = requirementsOf(inferUrl(ctx, model), addBody(0));
    requirementsCache.set(model, r);
  }
  return r;
}

/** Adds a payment-identifier to a v2 header (the extension the gateway declares in its 402). */
export function withPaymentId(header: string, id: string): string {
  const payload = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as Record<string, unknown>;
  payload['extensions'] = { [PAYMENT_IDENTIFIER]: { info: { required: false, id } } };
  return Buffer.from(JSON.stringify(payload)).toString('base64');
}

/** Signs a fresh authorization for `model` by `payer`, with a payment-identifier, in every form the edge takes. */
export async function authorize(
  ctx: SuiteContext,
  payer: LocalAccount,
  model: string,
  body: string,
  o: AuthorizationOverrides = {},
): Promise<Authorization> {
  const req = await requirementsFor(ctx, model);
  const { header: bare, nonce } = await paymentHeader(payer, req, o);
  const { header: legacy } = await legacyPaymentHeader(payer, req, { ...o, nonce });
  const paymentId = generatePaymentId();
  return { payer, nonce, header: withPaymentId(bare, paymentId), bare, legacy, paymentId, model, body };
}

/** Presents a payment header to a model's inference route. */
export function pay(ctx: SuiteContext, model: string, body: string, headers: Record<string, string>, query = ''): Promise<Answer> {
  return send(inferUrl(ctx, model, query), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
}

/**
 * The answer a used payment authorization bought, fetched again from `/v1/payments/{id}/result` when
 * `refusal` is the 402 `payment_already_used` that names it (the same request, already paid); null otherwise.
 */
export async function paidResult(ctx: SuiteContext, refusal: Answer, header: string): Promise<Answer | null> {
  const message = (refusal.body as { message?: unknown } | null)?.message;
  const path = typeof message === 'string' ? /\/v1\/payments\/pay_[0-9a-f]{32}\/result/.exec(message)?.[0] : undefined;
  if (refusal.code !== 'payment_already_used' || !path) return null;
  return send(`${ctx.stack.gateway}${path}`, { headers: { 'payment-signature': header } });
}

/** A served paid call: 200 with a payment that is not a replay of an earlier answer. */
export function isService(a: Answer): boolean {
  return a.status === 200 && a.headers.get('proofgate-replayed') !== 'true';
}

/** The receipt's request id of a 200 answer. */
export function requestIdOf(a: Answer): string | undefined {
  return (a.body as { receipt?: { requestId?: string } } | null)?.receipt?.requestId;
}

/** D1's payment records of these payers. */
export function paymentRows(
  ctx: SuiteContext,
  payers: Address[],
): { id: string; payer: string; nonce: string; state: string; error: string | null }[] {
  const wanted = new Set(payers.map((p) => p.toLowerCase()));
  return d1Rows(ctx.stack.stateDir, 'SELECT id, payer, nonce, state, error FROM payments').filter((r) =>
    wanted.has(String(r['payer']).toLowerCase()),
  ) as never;
}

const OPEN = new Set(['reserved', 'settling', 'pending']);

/** Waits (bounded) until no payment of these payers is open (reserved, settling, pending); returns the records. */
export async function settledDown(ctx: SuiteContext, payers: Address[], timeoutMs: number): Promise<ReturnType<typeof paymentRows>> {
  return pollUntil(
    `every payment of ${payers.length} payers to be settled, released or failed`,
    () => paymentRows(ctx, payers),
    (rows) => rows.every((r) => !OPEN.has(r.state)),
    { timeoutMs, intervalMs: 1_000 },
  ).catch(() => {
    const rows = paymentRows(ctx, payers);
    ctx.log(`  still open after ${timeoutMs / 1000} s: ${JSON.stringify(rows.filter((r) => OPEN.has(r.state)))}`);
    return rows;
  });
}

/** How many payments are in each state. */
export function statesOf(rows: { state: string }[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of rows) counts[r.state] = (counts[r.state] ?? 0) + 1;
  return counts;
}
