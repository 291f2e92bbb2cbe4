import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Address, Hex, LocalAccount } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { authorizationNonceKey } from '../../core/x402';
import type { LocalStack } from '../../local-stack/launch';
import { paymentRecordId } from '../../workers/payments/payment-record-id';
import { call, postJson } from '../support/gateway-client';
import { paymentState, stateDirOf } from '../support/stored-state';
import { pollUntil } from '../support/poll';
import { PAID_PRICE, launchTestStack } from '../support/test-stack';
import { balances, fundedPayer, paymentHeader, requirementsOf } from '../support/x402-payer';

// Settlement when the facilitator or the chain misbehaves, on a stack of its own whose links to the
// facilitator and to the chain's JSON-RPC go through switchable proxies. A facilitator's refusal is a
// refusal (result withheld, authorization released); an outcome that may have reached the chain is
// pending (result delivered, settled later, never asked for again); what cannot be checked before
// work is refused before work, storing nothing; and nothing stays reserved or pending without end.

const SETTLE_TIMEOUT_MS = 1000;
const RESERVATION_TTL_MS = 4000;
const price = BigInt(PAID_PRICE);

/** How the facilitator link behaves for the next requests. */
type FacilitatorMode =
  | 'pass'
  /** /settle is forwarded (the transfer lands) but its answer is held past the Worker's timeout, once. */
  | 'hold-settle'
  /** /settle answers success:false before anything is broadcast. */
  | 'refuse-settle'
  /** /settle answers 400. */
  | 'settle-400'
  /** /settle is forwarded (the transfer lands) but answered settlement_pending, once. */
  | 'settle-pending'
  /** /settle answers 503 and forwards nothing. */
  | 'settle-503'
  /** /verify answers 503. */
  | 'verify-503'
  /** /verify says the payment would not settle. */
  | 'verify-invalid';

let mode: FacilitatorMode = 'pass';
let rpcDown = false;
// Every test starts with the facilitator and the chain answering, whatever the one before set and
// however it ended (a failed assertion skips the resets written in the test).
beforeEach(() => {
  mode = 'pass';
  rpcDown = false;
});
let stack: LocalStack;
const proxies: Server[] = [];
let balanceOf: (a: string) => Promise<bigint>;

function proxy(
  target: () => string,
  handle: (
    path: string,
    body: Buffer,
    forward: () => Promise<{ status: number; text: string }>,
  ) => Promise<{ status: number; text: string; delayMs?: number }>,
) {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const forward = async () => {
        const upstream = await fetch(`${target()}${req.url}`, {
          method: req.method,
          headers: { 'content-type': 'application/json' },
          ...(req.method === 'POST' ? { body } : {}),
        });
        return { status: upstream.status, text: await upstream.text() };
      };
      handle(req.url ?? '', body, forward).then(
        ({ status, text, delayMs }) => setTimeout(() => res.writeHead(status, { 'content-type': 'application/json' }).end(text), delayMs ?? 0),
        () => res.writeHead(502).end(),
      );
    });
  });
  proxies.push(server);
  return new Promise<string>((r) => server.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

before(async () => {
  let anvilRpc = '';
  stack = await launchTestStack({
    backends: 1,
    workerVars: { X402_SETTLE_TIMEOUT_MS: String(SETTLE_TIMEOUT_MS), X402_RESERVATION_TTL_MS: String(RESERVATION_TTL_MS) },
    interposeRpc: async (rpc) => {
      anvilRpc = rpc;
      return proxy(
        () => anvilRpc,
        async (_path, _body, forward) => (rpcDown ? { status: 503, text: '{"error":"down"}' } : forward()),
      );
    },
    interposeFacilitator: async (facilitator) =>
      proxy(
        () => facilitator,
        async (path, _body, forward) => {
          if (path === '/verify') {
            if (mode === 'verify-503') return { status: 503, text: '{"error":"unavailable"}' };
            if (mode === 'verify-invalid')
              return { status: 200, text: JSON.stringify({ isValid: false, invalidReason: 'invalid_exact_evm_payload_signature' }) };
            return forward();
          }
          if (path !== '/settle') return forward();
          switch (mode) {
            case 'refuse-settle':
              return {
                status: 200,
                text: JSON.stringify({ success: false, errorReason: 'insufficient_funds', transaction: '', network: 'eip155:31337' }),
              };
            case 'settle-400':
              return { status: 400, text: JSON.stringify({ error: 'invalid_request', message: 'bad body' }) };
            case 'settle-503':
              return { status: 503, text: '{"error":"unavailable"}' };
            case 'hold-settle': {
              mode = 'pass';
              return { ...(await forward()), delayMs: SETTLE_TIMEOUT_MS * 3 };
            }
            case 'settle-pending': {
              mode = 'pass';
              const landed = JSON.parse((await forward()).text) as { transaction: string; network: string };
              return {
                status: 200,
                text: JSON.stringify({ success: false, errorReason: 'settlement_pending', transaction: landed.transaction, network: landed.network }),
              };
            }
            default:
              return forward();
          }
        },
      ),
  });
  balanceOf = balances(stack);
});
after(async () => {
  await stack.stop();
  for (const p of proxies) {
    p.closeAllConnections();
    p.close();
  }
});

const inputs = { a: { type: 'float32', dims: [1, 4], data: [1, 2, 3, 4] }, b: { type: 'float32', dims: [1, 4], data: [1, 1, 1, 1] } };
const url = (model = 'paid-add') => `${stack.gateway}/v1/models/${model}/infer`;
const requirements = (model = 'paid-add') => requirementsOf(url(model), JSON.stringify({ inputs }));
const recordUrl = async (payer: LocalAccount, nonce: Hex) =>
  `${stack.gateway}/v1/payments/${await paymentRecordId(authorizationNonceKey(stack.chain!.chainId, stack.chain!.token as Address, payer.address, nonce))}`;

// Bounded, generous for a loaded machine; on timeout it throws with the record it last saw.
async function until(id: string, done: (record: any) => boolean, what: string, timeoutMs = 60_000): Promise<any> {
  return pollUntil(`payment ${id} to be ${what}`, async () => (await call(`${stack.gateway}/v1/payments/${id}`)).body, done, { timeoutMs });
}

describe('a sync settlement whose outcome is unknown', () => {
  it('delivers the result, settles later, charges once, and never accepts the authorization again', async () => {
    const payer = privateKeyToAccount(stack.chain!.payerPrivateKey as Hex);
    const { header } = await paymentHeader(payer, await requirements());
    const before = await balanceOf(payer.address);

    mode = 'hold-settle';
    const res = await postJson(url(), { inputs }, { 'payment-signature': header });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.outputs.sum.data, [2, 3, 4, 5]);
    assert.equal(res.body.payment.state, 'pending');

    const record = await until(res.body.payment.id, (r) => r.state === 'settled', 'settled');
    assert.match(record.transaction, /^0x[0-9a-f]{64}$/);
    assert.equal(await balanceOf(payer.address), before - price);

    const replay = await postJson(url(), { inputs }, { 'payment-signature': header });
    assert.equal(replay.status, 402);
    assert.equal(replay.body.error, 'payment_already_used');
    assert.equal(await balanceOf(payer.address), before - price);
  });

  it('is pending when the facilitator says settlement_pending after broadcasting: delivered, settled, never asked again', async () => {
    const payer = await fundedPayer(stack, price * 3n);
    const { header } = await paymentHeader(payer, await requirements());
    mode = 'settle-pending';
    const res = await postJson(url(), { inputs }, { 'payment-signature': header });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.payment.state, 'pending');
    await until(res.body.payment.id, (r) => r.state === 'settled', 'settled');
    const replay = await postJson(url(), { inputs }, { 'payment-signature': header });
    assert.equal(replay.status, 402);
    assert.equal(replay.body.error, 'payment_already_used');
    assert.equal(await balanceOf(payer.address), price * 2n);
  });
});

describe('a settlement the facilitator refuses', () => {
  for (const [refusal, refusalMode, reason] of [
    ['success: false before any broadcast', 'refuse-settle', 'insufficient_funds'],
    ['a 4xx answer', 'settle-400', 'invalid_request'],
  ] as const) {
    it(`withholds the result (402 settlement_failed) and releases the authorization, on ${refusal}`, async () => {
      const payer = await fundedPayer(stack, price * 2n);
      const { header, nonce } = await paymentHeader(payer, await requirements());
      mode = refusalMode;
      const res = await postJson(url(), { inputs }, { 'payment-signature': header });
      mode = 'pass';
      assert.equal(res.status, 402, JSON.stringify(res.body));
      assert.equal(res.body.error, 'settlement_failed');
      assert.equal(res.body.outputs, undefined, 'the result is withheld');
      const record = (await call(await recordUrl(payer, nonce))).body;
      assert.equal(record.state, 'released');
      assert.equal(record.error, `settlement refused: ${reason}`);
      assert.equal(await balanceOf(payer.address), price * 2n);
      // Released means usable again, and charged once when it settles.
      const again = await postJson(url(), { inputs }, { 'payment-signature': header });
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal(await balanceOf(payer.address), price);
    });
  }
});

describe('payments whose settlement stays open', () => {
  it('count against credit: a payer funded for one call with a sync payment pending is refused a second', async () => {
    const payer = await fundedPayer(stack, price);
    const first = await paymentHeader(payer, await requirements());
    mode = 'settle-503';
    const res = await postJson(url(), { inputs }, { 'payment-signature': first.header });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.payment.state, 'pending');
    const second = await paymentHeader(payer, await requirements('paid-add-async'));
    const refused = await postJson(url('paid-add-async'), { inputs }, { 'payment-signature': second.header });
    assert.equal(refused.status, 402, JSON.stringify(refused.body));
    assert.equal(refused.body.error, 'insufficient_funds');
    assert.match(refused.body.message, /already reserved or pending/);
    mode = 'pass';
    await until(res.body.payment.id, (r) => r.state === 'settled', 'settled');
    assert.equal(await balanceOf(payer.address), 0n);
  });

  it('are retried with backoff and no cap, each attempt visible, until the facilitator settles them', async () => {
    const payer = await fundedPayer(stack, price);
    const { header } = await paymentHeader(payer, await requirements('paid-add-async'));
    mode = 'settle-503';
    const res = await postJson(url('paid-add-async'), { inputs }, { 'payment-signature': header });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const retrying = await until(res.body.payment.id, (r) => r.attempts >= 3, 'retried three times');
    assert.equal(retrying.state, 'pending');
    assert.match(retrying.error, /HTTP 503/);
    assert.ok(Date.parse(retrying.nextAttemptAt) > Date.parse(retrying.updatedAt), JSON.stringify(retrying));
    mode = 'pass';
    const settled = await until(res.body.payment.id, (r) => r.state === 'settled', 'settled', 120_000);
    assert.ok(settled.attempts >= 4);
    assert.equal(settled.nextAttemptAt, null);
    assert.equal(await balanceOf(payer.address), 0n);
  });
});

describe('what cannot be checked before work is refused before work, storing nothing', () => {
  for (const [what, setUp, status, code] of [
    ['the facilitator cannot be asked', () => (mode = 'verify-503'), 503, 'facilitator_unavailable'],
    ['the facilitator would not settle it', () => (mode = 'verify-invalid'), 402, 'payment_not_settleable'],
    ['the chain cannot be read', () => (rpcDown = true), 503, 'chain_unavailable'],
  ] as const) {
    it(`when ${what}: ${status} ${code}`, async () => {
      const payer = await fundedPayer(stack, price);
      const { header } = await paymentHeader(payer, await requirements('paid-add-async'));
      const stored = paymentState(stateDirOf(stack), [payer.address]);
      setUp();
      let res: { status: number; body: any };
      try {
        res = await postJson(url('paid-add-async'), { inputs }, { 'payment-signature': header });
      } finally {
        mode = 'pass';
        rpcDown = false;
      }
      assert.equal(res.status, status, JSON.stringify(res.body));
      assert.equal(typeof res.body.error === 'string' ? res.body.error : res.body.error.code, code);
      assert.equal(res.body.outputs, undefined);
      assert.deepEqual(paymentState(stateDirOf(stack), [payer.address]), stored);
      assert.equal(await balanceOf(payer.address), price);
    });
  }
});

describe('nothing stays in limbo', () => {
  it("releases a reservation whose call never finished (its client gone, the backend stalled) through the reservation's own alarm", async () => {
    const payer = await fundedPayer(stack, price);
    const { header, nonce } = await paymentHeader(payer, await requirements());
    const backend = stack.backends[0]!.pid;
    process.kill(backend, 'SIGSTOP');
    const client = new AbortController();
    let late: Promise<Response | undefined> | undefined;
    let again: ReturnType<typeof postJson<any>> | undefined;
    try {
      late = fetch(url(), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'payment-signature': header },
        body: JSON.stringify({ inputs }),
        signal: client.signal,
      }).catch(() => undefined);
      const id = (await recordUrl(payer, nonce)).split('/').at(-1)!;
      await until(id, (r) => r.state === 'reserved', 'reserved');
      client.abort();
      const released = await until(id, (r) => r.state === 'released', 'released by its alarm');
      assert.match(released.error, /reservation expired/);
      // Released for good: the authorization pays one later call. That call is reserved while the
      // first one still waits on the stalled backend, whose late answer must not settle (or release)
      // the later call's reservation.
      again = postJson(url(), { inputs }, { 'payment-signature': header });
      await until(id, (r) => r.state === 'reserved', 'reserved again');
    } finally {
      process.kill(backend, 'SIGCONT');
    }
    await late;
    const answer = await again!;
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.payment.state, 'settled');
    assert.equal(await balanceOf(payer.address), 0n);
  });

  it('fails a pending payment only with a reason: its authorization expired unused on chain', async () => {
    const payer = await fundedPayer(stack, price);
    const now = BigInt(Math.floor(Date.now() / 1000));
    const { header } = await paymentHeader(payer, await requirements('paid-add-async'), { validBefore: now + 45n });
    mode = 'settle-503';
    const res = await postJson(url('paid-add-async'), { inputs }, { 'payment-signature': header });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await until(res.body.payment.id, (r) => r.attempts >= 1, 'attempted');
    // The chain moves past the authorization's deadline (last test of this stack: its clock jumps).
    const rpc = (method: string, params: unknown[] = []) =>
      fetch(stack.chain!.rpc, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
      });
    await rpc('evm_increaseTime', [120]);
    await rpc('evm_mine');
    const failed = await until(res.body.payment.id, (r) => r.state === 'failed', 'failed', 90_000);
    mode = 'pass';
    assert.match(failed.error, /the authorization expired unused after \d+ attempts/);
    assert.equal(failed.nextAttemptAt, null);
    assert.equal(await balanceOf(payer.address), price);
  });
});
