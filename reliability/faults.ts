import { setTimeout as sleep } from 'node:timers/promises';
import type { LocalAccount } from 'viem';
import { pollUntil, waitForPidGone } from '../test/support/poll';
import { PAID_PRICE } from '../test/support/test-stack';
import { addBody, type Authorization, authorize, paidResult, pay, settledDown, statesOf, withPaymentId } from './payments';
import { chainReader, newPayer, send, tally, type Answer, type SuiteContext } from './suite-context';

/** One fault and what it did to paid calls (and tasks). */
export interface FaultScenario {
  name: string;
  holds: boolean;
  summary: string;
  problems: string[];
  paidCalls: number;
  lostPaid: number;
  doubleCharged: number;
  answers: Record<string, number>;
  paymentStates: Record<string, number>;
  tasks?: { submitted: number; completed: number; failedWithReason: number; stuck: number; unanswered: number; stuckStatuses: string[] };
}

/** Figures of the faults section. */
export interface FaultFigures {
  scenarios: FaultScenario[];
  lostPaid: number;
  doubleCharged: number;
}

/** A paid call as a client makes it: one payment-identifier, a new authorization for each try. */
interface PaidCall {
  model: string;
  body: string;
  paymentId: string;
  tries: { auth: Authorization; answer: Answer }[];
}

const MODELS = ['paid-add', 'paid-add-async'];
// A try whose answer says the call did not happen (or may not have) is retried once, as the official client would.
const retryable = (a: Answer) => a.status === 0 || a.status === 409 || a.status >= 500;

async function paidCalls(ctx: SuiteContext, payer: LocalAccount, count: number, tag: number): Promise<PaidCall[]> {
  const calls: PaidCall[] = [];
  for (let i = 0; i < count; i++) {
    const model = MODELS[i % 2]!;
    const body = addBody(tag * 1000 + i);
    const auth = await authorize(ctx, payer, model, body);
    calls.push({ model, body, paymentId: auth.paymentId, tries: [{ auth, answer: { status: -1, code: null, body: null, headers: new Headers() } }] });
  }
  return calls;
}

async function fire(ctx: SuiteContext, calls: PaidCall[]): Promise<void> {
  await Promise.all(
    calls.map(async (c) => {
      const t = c.tries[c.tries.length - 1]!;
      t.answer = await pay(ctx, c.model, c.body, { 'payment-signature': t.auth.header });
    }),
  );
}

async function retryFailed(ctx: SuiteContext, payer: LocalAccount, calls: PaidCall[]): Promise<void> {
  const failed = calls.filter((c) => retryable(c.tries[c.tries.length - 1]!.answer));
  for (const c of failed) {
    const auth = await authorize(ctx, payer, c.model, c.body);
    c.tries.push({
      auth: { ...auth, header: withPaymentId(auth.bare, c.paymentId), paymentId: c.paymentId },
      answer: { status: -1, code: null, body: null, headers: new Headers() },
    });
  }
  await fire(ctx, failed);
}

/** After settlement: each call charged at most once, and charged if and only if its result was (or can be) obtained. */
async function account(
  ctx: SuiteContext,
  name: string,
  payer: LocalAccount,
  calls: PaidCall[],
  extra: Partial<FaultScenario> = {},
): Promise<FaultScenario> {
  const rows = await settledDown(ctx, [payer.address], ctx.quick ? 90_000 : 120_000);
  const chain = chainReader(ctx.stack);
  const problems: string[] = [];
  let lost = 0;
  let doubled = 0;
  for (const c of calls) {
    const used = [];
    for (const t of c.tries) if (await chain.used(t.auth.payer.address, t.auth.nonce)) used.push(t);
    let got = c.tries.some((t) => t.answer.status === 200);
    if (used.length > 1) {
      doubled++;
      problems.push(`${c.paymentId} charged ${used.length} times`);
    }
    if (used.length > 0 && !got) {
      const last = used[used.length - 1]!;
      const header = withPaymentId(last.auth.bare, c.paymentId);
      const retry = await pay(ctx, c.model, c.body, { 'payment-signature': header });
      got = retry.status === 200 || (await paidResult(ctx, retry, header))?.status === 200;
      if (!got) {
        lost++;
        problems.push(
          `${c.paymentId} charged without a result (${c.tries.map((t) => t.answer.status).join(',')}; retry ${retry.status} ${retry.code})`,
        );
      }
    }
    if (used.length === 0 && got) {
      lost++;
      problems.push(`${c.paymentId} served without a charge`);
    }
  }
  const states = statesOf(rows);
  const open = (states['reserved'] ?? 0) + (states['settling'] ?? 0) + (states['pending'] ?? 0);
  if (open) problems.push(`${open} payments still open`);
  const answers = tally(calls.flatMap((c) => c.tries.map((t) => t.answer)));
  const tasks = extra.tasks;
  if (tasks?.stuck) problems.push(`${tasks.stuck} tasks neither attested nor failed: ${tasks.stuckStatuses.join(' | ')}`);
  return {
    name,
    holds: problems.length === 0,
    summary: `${calls.length} paid calls: lost ${lost}, double-charged ${doubled}; answers ${JSON.stringify(answers)}${tasks ? `; tasks ${JSON.stringify(tasks)}` : ''}`,
    problems: problems.slice(0, 10),
    paidCalls: calls.length,
    lostPaid: lost,
    doubleCharged: doubled,
    answers,
    paymentStates: states,
    ...extra,
  };
}

async function intents(ctx: SuiteContext, count: number, tag: number): Promise<Promise<Answer>[]> {
  return Array.from({ length: count }, (_, i) =>
    send(`${ctx.stack.gateway}/v1/intents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        intent: {
          from: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
          to: '0x90F79bf6EB2c4f870365E785982E1f101E93b906',
          value: String(tag * 1000 + i),
          data: '0x',
          chainId: ctx.stack.chain!.chainId,
        },
        policyId: ctx.stack.demoPolicyId,
        waitMs: 0,
        deadlineSeconds: 10,
      }),
    }),
  );
}

/** Follows submitted tasks (bounded) until each is completed or failed; counts those that are neither. */
async function taskOutcomes(ctx: SuiteContext, answers: Answer[]) {
  const ids = answers.map((a) => (a.body as { taskId?: string } | null)?.taskId).filter((t): t is string => typeof t === 'string');
  let completed = 0;
  let failedWithReason = 0;
  let stuck = 0;
  const stuckStatuses: string[] = [];
  for (const id of ids) {
    const task = await pollUntil(
      `task ${id} to finish`,
      () => send(`${ctx.stack.gateway}/v1/tasks/${id}`),
      (a) => ['completed', 'failed'].includes(String((a.body as { status?: string } | null)?.status)),
      { timeoutMs: 40_000, intervalMs: 500 },
    ).catch(() => null);
    const body = task?.body as { status?: string; failure?: unknown; reason?: string; error?: unknown } | undefined;
    if (body?.status === 'completed') completed++;
    else if (body?.status === 'failed' && (body.failure || body.reason || body.error)) failedWithReason++;
    else {
      stuck++;
      if (stuckStatuses.length < 5) stuckStatuses.push(`${id.slice(0, 10)}…: ${JSON.stringify(body ?? null).slice(0, 200)}`);
    }
  }
  // Intents the restart cut before an answer have no task id: the caller saw an error and nothing was charged.
  return { submitted: answers.length, completed, failedWithReason, stuck, unanswered: answers.length - ids.length, stuckStatuses };
}

/**
 * Faults under paid traffic, each followed by settlement and an account of every call: a backend
 * killed with SIGKILL; an operator killed mid-task; the facilitator unreachable (before work, and
 * during sync and async settlement); the chain unreachable (anvil frozen with SIGSTOP); the Worker
 * runtime restarted with payments and tasks in flight; Durable Objects evicted mid-call.
 */
export async function faults(ctx: SuiteContext): Promise<FaultFigures> {
  const n = ctx.quick ? 12 : 30;
  const price = BigInt(PAID_PRICE);
  const scenarios: FaultScenario[] = [];
  const run = async (name: string, body: () => Promise<FaultScenario>) => {
    ctx.log(`  fault: ${name}`);
    try {
      scenarios.push(await body());
    } catch (err) {
      scenarios.push({
        name,
        holds: false,
        summary: 'did not finish',
        problems: [String(err)],
        paidCalls: 0,
        lostPaid: 0,
        doubleCharged: 0,
        answers: {},
        paymentStates: {},
      });
    }
    ctx.log(`  ${scenarios[scenarios.length - 1]!.summary.slice(0, 300)}`);
  };

  await run('Durable Objects evicted mid-call', async () => {
    const payer = await newPayer(ctx, price * BigInt(3 * n));
    const calls = await paidCalls(ctx, payer, n, 61);
    const firing = fire(ctx, calls);
    const submitted = intents(ctx, 3, 61);
    const until = Date.now() + 3_000;
    let evictions = 0;
    while (Date.now() < until) {
      for (const cls of ['NonceLedger', 'TaskQuorum', 'BackendPool'] as const) {
        for (const id of await ctx.rs.gateway.objectIds(cls)) {
          await ctx.rs.gateway.evict(cls, id).catch(() => undefined);
          evictions++;
        }
      }
      await sleep(100);
    }
    await firing;
    await retryFailed(ctx, payer, calls);
    const tasks = await taskOutcomes(ctx, await Promise.all(await submitted));
    const s = await account(ctx, `Durable Objects evicted mid-call (${evictions} evictions)`, payer, calls, { tasks });
    return s;
  });

  await run('Worker runtime restarted with payments and tasks in flight', async () => {
    const payer = await newPayer(ctx, price * BigInt(3 * n));
    const calls = await paidCalls(ctx, payer, n, 71);
    const firing = fire(ctx, calls);
    const submitted = intents(ctx, 4, 71);
    await sleep(150);
    await ctx.rs.gateway.restart();
    await firing;
    await retryFailed(ctx, payer, calls);
    const tasks = await taskOutcomes(ctx, await Promise.all(await submitted));
    return account(ctx, 'Worker runtime restarted with payments and tasks in flight', payer, calls, { tasks });
  });

  await run('facilitator unreachable', async () => {
    const payer = await newPayer(ctx, price * BigInt(3 * n + 4));
    // Before work: /verify cannot be asked, so the call is refused (503) and nothing is reserved.
    ctx.rs.facilitatorLink.mode = 'down';
    const before = await paidCalls(ctx, payer, 4, 80);
    await fire(ctx, before);
    // During settlement: verified, served, then /settle unreachable (sync: open outcome; async: retries).
    ctx.rs.facilitatorLink.mode = 'settle-down';
    const calls = await paidCalls(ctx, payer, n, 81);
    await fire(ctx, calls);
    await sleep(5_000);
    ctx.rs.facilitatorLink.mode = 'pass';
    await retryFailed(ctx, payer, [...before, ...calls]);
    return account(ctx, 'facilitator unreachable before work and during sync and async settlement', payer, [...before, ...calls]);
  });

  await run('chain unreachable', async () => {
    const anvil = ctx.rs.pidOf('anvil');
    if (!anvil) throw new Error('anvil is not running');
    const payer = await newPayer(ctx, price * BigInt(3 * n));
    const calls = await paidCalls(ctx, payer, n, 91);
    const firing = fire(ctx, calls);
    await sleep(200);
    process.kill(anvil, 'SIGSTOP');
    try {
      await sleep(8_000);
    } finally {
      process.kill(anvil, 'SIGCONT');
    }
    await firing;
    await retryFailed(ctx, payer, calls);
    return account(ctx, 'chain unreachable (anvil frozen) during sync and async settlement', payer, calls);
  });

  await run('operator killed mid-task', async () => {
    const pid = ctx.rs.pidOf('--id operator-3');
    if (!pid) throw new Error('operator-3 is not running');
    const submitted = intents(ctx, ctx.quick ? 4 : 8, 101);
    await sleep(100);
    process.kill(pid, 'SIGKILL');
    await waitForPidGone(pid, 'operator-3', 10_000);
    const tasks = await taskOutcomes(ctx, await Promise.all(await submitted));
    const problems = tasks.stuck ? [`${tasks.stuck} tasks neither attested nor failed`] : [];
    return {
      name: 'operator killed mid-task (SIGKILL, stake 20 of 100)',
      holds: problems.length === 0,
      summary: `tasks ${JSON.stringify(tasks)}`,
      problems,
      paidCalls: 0,
      lostPaid: 0,
      doubleCharged: 0,
      answers: {},
      paymentStates: {},
      tasks,
    };
  });

  await run('backend killed under load', async () => {
    const backend = ctx.stack.backends[0]!;
    const payer = await newPayer(ctx, price * BigInt(6 * n));
    const calls = await paidCalls(ctx, payer, 2 * n, 111);
    const firing = fire(ctx, calls);
    await sleep(150);
    process.kill(backend.pid, 'SIGKILL');
    await waitForPidGone(backend.pid, 'backend-1', 10_000);
    await firing;
    await retryFailed(ctx, payer, calls);
    return account(ctx, 'backend killed with SIGKILL under paid load', payer, calls);
  });

  return {
    scenarios,
    lostPaid: scenarios.reduce((s, x) => s + x.lostPaid, 0),
    doubleCharged: scenarios.reduce((s, x) => s + x.doubleCharged, 0),
  };
}
