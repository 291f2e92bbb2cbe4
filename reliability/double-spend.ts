import { seededRandom } from '../test/support/seeded-random';
import { PAID_PRICE } from '../test/support/test-stack';
import { addBody, authorize, isService, paidResult, pay, paymentRows, requestIdOf, settledDown, statesOf, type Authorization } from './payments';
import { bounded, chainReader, newPayer, tally, type Answer, type SuiteContext } from './suite-context';

/** Figures of the double-spend section. */
export interface DoubleSpendFigures {
  authorizations: number;
  requests: number;
  maxServedPerAuthorization: number;
  paidServed: number;
  transfers: number;
  /** Charged on chain, and the payer neither got the result nor can get it by retrying with its payment-identifier. */
  lostPaid: number;
  /** Served (or obtainable by retry) with no transfer on chain once settlement finished. */
  servedUnpaid: number;
  /** Results obtained only by a retry with the same payment-identifier after the runtime restart cut the first answer. */
  obtainedByRetry: number;
  /** Replayed answers whose receipt differs from the service of the same authorization. */
  replayMismatches: number;
  /** What the payers' balances lost, in calls' worth. */
  chargedCalls: number;
  runtimeRestarts: number;
  answers: Record<string, number>;
  paymentStates: Record<string, number>;
  seconds: number;
}

const MODELS = ['paid-add', 'paid-add-async'] as const;

/**
 * Thousands of paid requests in bursts that re-use a few hundred authorizations over concurrent
 * connections: the same authorization retried (same payment-identifier), offered to the other priced
 * model, with another body, without the identifier, and in the legacy X-PAYMENT form; the Worker
 * runtime is restarted in the middle. Then every authorization is checked on chain.
 */
export async function doubleSpend(ctx: SuiteContext): Promise<DoubleSpendFigures> {
  const started = Date.now();
  const size = ctx.quick
    ? { payers: 3, authorizations: 60, requests: 600, burst: 120, concurrency: 16 }
    : { payers: 6, authorizations: 300, requests: 3000, burst: 300, concurrency: 24 };
  const price = BigInt(PAID_PRICE);
  const perPayer = Math.ceil(size.authorizations / size.payers);
  const payers = [];
  for (let i = 0; i < size.payers; i++) payers.push(await newPayer(ctx, price * BigInt(perPayer + 2)));
  const chain = chainReader(ctx.stack);
  const before = await Promise.all(payers.map((p) => chain.balanceOf(p.address)));

  const auths: Authorization[] = [];
  for (let i = 0; i < size.authorizations; i++) {
    auths.push(await authorize(ctx, payers[i % size.payers]!, MODELS[i % 2]!, addBody(i)));
  }
  ctx.log(`  ${auths.length} authorizations by ${payers.length} payers signed; ${size.requests} requests in bursts of ${size.burst}`);

  const random = seededRandom(17);
  const answers: { auth: number; variant: number; answer: Answer }[] = [];
  const present = async (i: number, a: Authorization, variant: number): Promise<Answer> => {
    const other = a.model === MODELS[0] ? MODELS[1] : MODELS[0];
    switch (variant) {
      case 0: // a retry: same call, same payment-identifier
        return pay(ctx, a.model, a.body, { 'payment-signature': a.header });
      case 1: // the same authorization offered to the other priced model
        return pay(ctx, other, a.body, { 'payment-signature': a.bare });
      case 2: // another call, legacy v1 encoding of the same authorization
        return pay(ctx, a.model, addBody(10_000 + i), { 'x-payment': a.legacy });
      default: // another call, no identifier
        return pay(ctx, a.model, addBody(20_000 + i), { 'payment-signature': a.bare });
    }
  };
  const deadline = started + (ctx.quick ? 150_000 : 360_000);
  let restarts = 0;
  for (let b = 0; b * size.burst < size.requests && Date.now() < deadline; b++) {
    const count = Math.min(size.burst, size.requests - b * size.burst);
    // Each burst re-uses a window of authorizations, so each is presented many times at once.
    const window = Math.max(8, Math.floor(size.authorizations / 5));
    const offset = Math.floor(random() * size.authorizations);
    const restartNow = b === Math.floor(size.requests / size.burst / 2);
    const burst = bounded(count, size.concurrency, deadline, async (i) => {
      const auth = (offset + Math.floor(random() * window)) % size.authorizations;
      const variant = Math.floor(random() * 4);
      answers.push({ auth, variant, answer: await present(b * size.burst + i, auths[auth]!, variant) });
    });
    if (restartNow) {
      // The runtime dies with this burst in flight (workerd is killed and started again).
      await new Promise((r) => setTimeout(r, 300));
      await ctx.rs.gateway.restart();
      restarts++;
      ctx.log(`  restarted the Worker runtime during burst ${b + 1}`);
    }
    await burst;
  }

  // Settlement finishes (async payments, reservations cut by the restart expire and resolve).
  const rows = await settledDown(
    ctx,
    payers.map((p) => p.address),
    ctx.quick ? 90_000 : 150_000,
  );

  const served = new Map<number, Set<string>>();
  let maxServed = 0;
  for (const { auth, answer } of answers) {
    if (!isService(answer)) continue;
    const set = served.get(auth) ?? new Set<string>();
    set.add(requestIdOf(answer) ?? `unknown-${set.size}`);
    served.set(auth, set);
  }
  const servicesPerAuth = new Map<number, number>();
  for (const { auth, answer } of answers) if (isService(answer)) servicesPerAuth.set(auth, (servicesPerAuth.get(auth) ?? 0) + 1);
  for (const n of servicesPerAuth.values()) maxServed = Math.max(maxServed, n);
  let replayMismatches = 0;
  for (const { auth, answer } of answers) {
    if (answer.status !== 200 || isService(answer)) continue;
    const first = served.get(auth);
    if (first && !first.has(requestIdOf(answer) ?? '')) replayMismatches++;
  }

  let transfers = 0;
  let lostPaid = 0;
  let servedUnpaid = 0;
  let obtainedByRetry = 0;
  let paidServed = 0;
  for (const [i, a] of auths.entries()) {
    const used = await chain.used(a.payer.address, a.nonce);
    if (used) transfers++;
    let gotResult = served.has(i) || answers.some((x) => x.auth === i && x.answer.status === 200);
    if (used && !gotResult) {
      // The answer was cut (runtime restart): the payer retries (with its payment-identifier when it
      // sent one); without one, x402 refuses the authorization again and the payer fetches the answer
      // it paid for from /v1/payments/{id}/result by presenting the same authorization.
      const retry = await pay(ctx, a.model, a.body, { 'payment-signature': a.header });
      const result = retry.status === 200 ? retry : await paidResult(ctx, retry, a.header);
      if (result?.status === 200) {
        gotResult = true;
        obtainedByRetry++;
      } else lostPaid++;
    }
    if (gotResult) paidServed++;
    if (gotResult && !used) servedUnpaid++;
    if ((gotResult && !used) || (used && !gotResult)) await logEvidence(ctx, i, a, answers);
  }
  const after = await Promise.all(payers.map((p) => chain.balanceOf(p.address)));
  const spent = before.reduce((s, b, i) => s + b - after[i]!, 0n);
  return {
    authorizations: auths.length,
    requests: answers.length,
    maxServedPerAuthorization: maxServed,
    paidServed,
    transfers,
    lostPaid,
    servedUnpaid,
    obtainedByRetry,
    replayMismatches,
    chargedCalls: Number(spent / price),
    runtimeRestarts: restarts,
    answers: tally(answers.map((a) => a.answer)),
    paymentStates: statesOf(rows),
    seconds: Math.round((Date.now() - started) / 1000),
  };
}

// A figure that does not hold names its evidence: every answer the authorization got, its D1
// record and its ledger row (the authority), so a rare failure can be read after the run.
async function logEvidence(ctx: SuiteContext, i: number, a: Authorization, answers: { auth: number; variant: number; answer: Answer }[]) {
  ctx.log(`  authorization ${i} (${a.model}, nonce ${a.nonce}):`);
  answers.forEach((x, order) => {
    if (x.auth !== i) return;
    const payment = (x.answer.body as { payment?: unknown } | null)?.payment;
    ctx.log(
      `    answer #${order} variant ${x.variant}: ${x.answer.status || x.answer.networkError} ${x.answer.code ?? ''} ${JSON.stringify(payment ?? null)}`,
    );
  });
  const record = paymentRows(ctx, [a.payer.address]).find((r) => r.nonce.toLowerCase() === a.nonce.toLowerCase());
  ctx.log(`    D1: ${JSON.stringify(record ?? null)}`);
  for (const id of await ctx.rs.gateway.objectIds('NonceLedger')) {
    const rows = (
      await ctx.rs.gateway.sql('NonceLedger', id, 'SELECT nonce_key, state, attempts, error, next_attempt_at, mirror_dirty, request_id FROM ledger')
    ).filter((row) => String(row['nonce_key']).endsWith(a.nonce.toLowerCase()));
    for (const row of rows) ctx.log(`    ledger ${id.slice(0, 12)}: ${JSON.stringify(row)} (now ${Date.now()})`);
  }
}
