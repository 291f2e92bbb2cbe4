import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Address, Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { receiptCharge, receiptDigest, signDigest, verifyReceipt, type ReceiptFieldsV2 } from '../../core/receipts';
import { runShareMs } from '../../gpu-backend/run-scheduler';
import type { LocalStack } from '../../local-stack/launch';
import { testModels } from '../../scripts/generate-test-models';
import { call, postJson } from '../support/gateway-client';
import { pollUntil } from '../support/poll';
import { attachInProcessBackend, type InProcessBackend } from '../support/in-process-backend';
import { seededRandom } from '../support/seeded-random';
import { paymentState, stateDirOf } from '../support/stored-state';
import { launchTestStack } from '../support/test-stack';
import { uptoPaymentHeader } from '../support/upto-payer';
import { balances, fundedPayer, requirementsOf } from '../support/x402-payer';

// Metered calls against backends this file controls, on a stack of its own with no backend
// processes: in-process backends (real onnxruntime, real keys), one of them behind a proxy that
// bends its signed receipts, and a facilitator link that can refuse settlements. What is checked
// is what the chain and the stored state say: a charge is what an honest backend signed, and a
// result that is not delivered leaves neither a transfer nor a receipt.

const TERMS = { ratePerMs: '7', base: '11', cap: '1000' };
const cap = BigInt(TERMS.cap);
let stack: LocalStack;
let balanceOf: (a: string) => Promise<bigint>;
let refuseSettlement = false;
const servers: Server[] = [];
const attached: InProcessBackend[] = [];

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

before(async () => {
  stack = await launchTestStack({
    backends: 0,
    // /settle answers success:false (nothing broadcast) while refuseSettlement is set.
    interposeFacilitator: (facilitator) =>
      listen(
        createServer((req, res) => {
          const chunks: Buffer[] = [];
          req.on('data', (c: Buffer) => chunks.push(c));
          req.on('end', async () => {
            if (req.url === '/settle' && refuseSettlement) {
              res.writeHead(200, { 'content-type': 'application/json' });
              res.end(JSON.stringify({ success: false, errorReason: 'insufficient_funds', transaction: '', network: 'eip155:31337' }));
              return;
            }
            const upstream = await fetch(`${facilitator}${req.url}`, {
              method: req.method,
              headers: { 'content-type': 'application/json' },
              ...(req.method === 'POST' ? { body: Buffer.concat(chunks) } : {}),
            });
            res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(await upstream.text());
          });
        }),
      ),
  });
  balanceOf = balances(stack);
  const q = `pricing=metered&ratePerMs=${TERMS.ratePerMs}&base=${TERMS.base}&cap=${TERMS.cap}`;
  for (const [name, query] of [
    ['tiny-add', q],
    ['tiny-batch', q],
    ['tiny-add-no-base', `pricing=metered&ratePerMs=${TERMS.ratePerMs}&cap=${TERMS.cap}`],
  ] as const) {
    const res = await call(`${stack.gateway}/v1/models/metered-${name}/versions?${query}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.adminToken}` },
      body: testModels().find((m) => m.name === name.replace('-no-base', ''))!.bytes,
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }
});
after(async () => {
  for (const b of attached) await b.stop();
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
  await stack.stop();
});

async function attach(opts: Parameters<typeof attachInProcessBackend>[2] = {}): Promise<InProcessBackend> {
  const b = await attachInProcessBackend(stack.gateway, stack.operatorToken, opts);
  attached.push(b);
  return b;
}

async function deregister(b: InProcessBackend): Promise<void> {
  await b.drain();
  await b.stop();
  attached.splice(attached.indexOf(b), 1);
}

const addInputs = { a: { type: 'float32', dims: [1, 4], data: [1, 2, 3, 4] }, b: { type: 'float32', dims: [1, 4], data: [1, 1, 1, 1] } };
const url = (model: string) => `${stack.gateway}/v1/models/${model}/infer`;

/** A fresh payer funded for one call's cap, and its upto payment for a metered call. */
async function payment(model: string, inputs: Record<string, unknown>) {
  const payer = await fundedPayer(stack, cap, { approvePermit2: true });
  const { header } = await uptoPaymentHeader(payer, await requirementsOf(url(model), JSON.stringify({ inputs }), 'upto'));
  return { payer, header };
}

/** A metered call paid with upto by a fresh payer. */
async function paidCall(model: string, inputs: Record<string, unknown>) {
  const { payer, header } = await payment(model, inputs);
  const res = await postJson(url(model), { inputs }, { 'payment-signature': header });
  return { res, payer };
}

/** The payment record once settled; throws (with the last record) if it is not within 60 s. */
function settled(id: string): Promise<any> {
  return pollUntil(
    `payment ${id} to be settled`,
    async () => (await call(`${stack.gateway}/v1/payments/${id}`)).body,
    (r) => r.state === 'settled',
    {
      timeoutMs: 60_000,
    },
  );
}

type Bend = 'overcharge' | 'other-payer' | 'fail' | 'zero-run';

/**
 * A proxy in front of a backend that bends each receipt and signs it again with the backend's own
 * key (so its signature verifies), or fails the call outright.
 */
function bendingProxy(key: Hex, bend: Bend): (url: string) => Promise<string> {
  return (target) =>
    listen(
      createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', async () => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(req.headers))
            if (typeof v === 'string' && !['host', 'connection', 'content-length'].includes(k)) headers[k] = v;
          const upstream = await fetch(`${target}${req.url}`, { method: req.method, headers, body: Buffer.concat(chunks) });
          const body = Buffer.from(await upstream.arrayBuffer());
          if (bend === 'fail') {
            res.writeHead(500).end('boom');
            return;
          }
          const out: Record<string, string> = {};
          upstream.headers.forEach((v, k) => {
            if (!['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date'].includes(k)) out[k] = v;
          });
          const raw = out['proofgate-receipt'];
          if (upstream.status === 200 && raw) {
            const {
              timings,
              signature: _,
              ...fields
            } = JSON.parse(Buffer.from(raw, 'base64url').toString()) as ReceiptFieldsV2 & {
              timings: unknown;
              signature: Hex;
            };
            const bent: ReceiptFieldsV2 =
              bend === 'overcharge'
                ? { ...fields, charged: (BigInt(fields.charged) + 1n).toString() }
                : bend === 'zero-run'
                  ? { ...fields, runMs: 0, charged: receiptCharge(fields, 0) }
                  : { ...fields, payer: privateKeyToAccount(generatePrivateKey()).address };
            const signature = signDigest(receiptDigest(bent), key);
            out['proofgate-receipt'] = Buffer.from(JSON.stringify({ ...bent, timings, signature })).toString('base64url');
          }
          res.writeHead(upstream.status, out).end(body);
        });
      }),
    );
}

describe('a metered call is charged only what an honest backend signed, and only when delivered', () => {
  it('withholds a result whose settlement is refused: no transfer, and no receipt stored for it', async () => {
    const honest = await attach();
    refuseSettlement = true;
    const withheld = await paidCall('metered-tiny-add', addInputs).finally(() => {
      refuseSettlement = false;
    });
    assert.equal(withheld.res.status, 402, JSON.stringify(withheld.res.body));
    assert.equal(withheld.res.body.error, 'settlement_failed');
    assert.equal(withheld.res.body.receipt, undefined);
    assert.equal(await balanceOf(withheld.payer.address), cap);
    const [ran] = honest.served;
    assert.ok(ran, 'the backend ran the call');

    const delivered = await paidCall('metered-tiny-add', addInputs);
    assert.equal(delivered.res.status, 200, JSON.stringify(delivered.res.body));
    const { receipt } = delivered.res.body;
    assert.equal(receipt.requestId, honest.served[1]);
    assert.equal(await balanceOf(delivered.payer.address), cap - BigInt(receipt.charged));
    // The delivered result's receipt is stored (once its write is done); the withheld one never is.
    let stored = await call(`${stack.gateway}/v1/receipts/${receipt.requestId}`);
    for (let i = 0; i < 50 && stored.status !== 200; i++) stored = await call(`${stack.gateway}/v1/receipts/${receipt.requestId}`);
    assert.deepEqual(stored.body, receipt);
    assert.equal((await call(`${stack.gateway}/v1/receipts/${ran}`)).status, 404, 'the withheld result left a receipt');
    await deregister(honest);
  });

  for (const bend of ['overcharge', 'other-payer', 'fail'] as const) {
    it(`refuses a backend whose answer is bent (${bend}): 502, the reservation released, no transfer, no receipt`, async () => {
      const key = generatePrivateKey();
      const rogue = await attach({ registerAs: privateKeyToAccount(key), interpose: bendingProxy(key, bend) });
      const { res, payer } = await paidCall('metered-tiny-add', addInputs);
      assert.equal(res.status, 502, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'backend_failed');
      assert.equal(rogue.served.length, 1);
      const rows = paymentState(stateDirOf(stack), [payer.address]).d1 as { state: string; transaction: string | null; charged: string | null }[];
      assert.deepEqual(
        rows.map((r) => [r.state, r.transaction, r.charged]),
        [['released', null, null]],
      );
      assert.equal(await balanceOf(payer.address), cap);
      assert.equal((await call(`${stack.gateway}/v1/receipts/${rogue.served[0]}`)).status, 404);
      await deregister(rogue);
    });
  }
});

describe('a metered call that costs 0', () => {
  it('settles with no transaction, and its authorization is used', async () => {
    // A backend that measured no run time (signed as such) on a model without a base: the terms charge 0.
    const key = generatePrivateKey();
    const backend = await attach({ registerAs: privateKeyToAccount(key), interpose: bendingProxy(key, 'zero-run') });
    const { payer, header } = await payment('metered-tiny-add-no-base', addInputs);
    const res = await postJson(url('metered-tiny-add-no-base'), { inputs: addInputs }, { 'payment-signature': header });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual([res.body.receipt.runMs, res.body.receipt.charged], [0, '0']);
    assert.equal((await verifyReceipt(res.body.receipt, { trustedBackends: [backend.account.address] })).valid, true);
    assert.deepEqual(res.body.payment, {
      id: res.body.payment.id,
      scheme: 'upto',
      state: 'settled',
      maxAmount: TERMS.cap,
      charged: '0',
      transaction: null,
    });
    assert.equal(await balanceOf(payer.address), cap);
    const replay = await postJson(url('metered-tiny-add-no-base'), { inputs: addInputs }, { 'payment-signature': header });
    assert.equal(replay.status, 402);
    assert.equal(replay.body.error, 'payment_already_used');
    await deregister(backend);
  });
});

describe('batched metered calls', () => {
  it("bill each caller its rows' share of the batch's run time, signed, and charge exactly that", async () => {
    // The first call waits (up to a minute) for three more of its shape: one run for the four.
    const batching = await attach({ scheduler: { maxBatch: 4, maxQueueDelayUs: 60_000_000 } });
    const rows = [1, 3, 2, 2];
    const random = seededRandom(11);
    const inputs = rows.map((r) => ({
      x: { type: 'float32', dims: [r, 32], data: Array.from({ length: r * 32 }, () => Math.fround(random() * 2 - 1)) },
    }));
    // Payers are funded one after another (one minter), then the four calls go at once.
    const payments = [];
    for (const x of inputs) payments.push(await payment('metered-tiny-batch', x));
    const calls = await Promise.all(
      payments.map(async ({ payer, header }, i) => ({
        payer,
        res: await postJson(url('metered-tiny-batch'), { inputs: inputs[i] }, { 'payment-signature': header }),
      })),
    );
    const batchRunMs = calls[0]!.res.body.receipt?.timings?.runMs;
    for (const [i, { res, payer }] of calls.entries()) {
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const r = res.body.receipt;
      assert.deepEqual(
        (await verifyReceipt(r, { inputs: inputs[i]!, outputs: res.body.outputs, trustedBackends: [batching.account.address as Address] })).reasons,
        [],
      );
      assert.equal(r.timings.runMs, batchRunMs, 'one run for the four calls');
      // The run's time in whole µs (the unsigned timing is rounded to the µs; the backend rounds up).
      const micros = Math.round(batchRunMs * 1000);
      assert.ok(
        [runShareMs(micros, rows[i]!, 8), runShareMs(micros + 1, rows[i]!, 8)].includes(r.runMs),
        `caller ${i}: ${r.runMs} ms of ${batchRunMs} ms`,
      );
      assert.equal(r.charged, receiptCharge(r, r.runMs));
      // Settled at once, or (concurrent settlements) pending and settled by the ledger right after.
      const record = await settled(res.body.payment.id);
      assert.equal(record.charged, r.charged);
      assert.equal(await balanceOf(payer.address), cap - BigInt(r.charged));
    }
    await deregister(batching);
  });
});
