import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import type { LocalStack } from '../../local-stack/launch';
import { call, postJson } from '../support/gateway-client';
import { PAID_PRICE, launchTestStack } from '../support/test-stack';
import { balances, paymentHeader, requirementsOf } from '../support/x402-payer';

// A sync settlement that times out is not a failure: the transfer may still land. Here the link to
// the facilitator forwards the first /settle at once (the transfer lands on chain) but holds the
// answer past the Worker's settlement timeout. The caller must get the result (not a 402 that would
// make it pay twice), the payment must go pending and then settled, and the authorization must
// never be asked for or accepted again.

const SETTLE_TIMEOUT_MS = 1000;
let stack: LocalStack;
let proxy: Server;
let settleCalls = 0;

before(async () => {
  stack = await launchTestStack({
    backends: 1,
    workerVars: { X402_SETTLE_TIMEOUT_MS: String(SETTLE_TIMEOUT_MS) },
    interposeFacilitator: async (facilitator) => {
      proxy = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const first = req.url === '/settle' && settleCalls++ === 0;
          void fetch(`${facilitator}${req.url}`, {
            method: req.method,
            headers: { 'content-type': 'application/json' },
            ...(req.method === 'POST' ? { body: Buffer.concat(chunks) } : {}),
          }).then(
            async (upstream) => {
              const text = await upstream.text();
              setTimeout(() => res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(text), first ? SETTLE_TIMEOUT_MS * 3 : 0);
            },
            () => res.writeHead(502).end(),
          );
        });
      });
      await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
      return `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    },
  });
});
after(async () => {
  await stack.stop();
  await new Promise<void>((r) => proxy.close(() => r()));
});

describe('a sync settlement whose outcome is unknown', () => {
  it('delivers the result, settles later, charges once, and never accepts the authorization again', async () => {
    const payer = privateKeyToAccount(stack.chain!.payerPrivateKey as Hex);
    const balanceOf = balances(stack);
    const url = `${stack.gateway}/v1/models/paid-add/infer`;
    const inputs = { a: { type: 'float32', dims: [1, 4], data: [1, 2, 3, 4] }, b: { type: 'float32', dims: [1, 4], data: [1, 1, 1, 1] } };
    const { header } = await paymentHeader(payer, await requirementsOf(url, JSON.stringify({ inputs })));
    const before = await balanceOf(payer.address);

    const res = await postJson(url, { inputs }, { 'payment-signature': header });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.outputs.sum.data, [2, 3, 4, 5]);
    assert.equal(res.body.payment.state, 'pending');

    let record: any;
    for (let i = 0; i < 150; i++) {
      record = (await call(`${stack.gateway}/v1/payments/${res.body.payment.id}`)).body;
      if (record.state === 'settled') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(record.state, 'settled', JSON.stringify(record));
    assert.match(record.transaction, /^0x[0-9a-f]{64}$/);
    assert.equal(await balanceOf(payer.address), before - BigInt(PAID_PRICE));

    const replay = await postJson(url, { inputs }, { 'payment-signature': header });
    assert.equal(replay.status, 402);
    assert.equal(replay.body.error, 'payment_already_used');
    assert.equal(await balanceOf(payer.address), before - BigInt(PAID_PRICE));
  });
});
