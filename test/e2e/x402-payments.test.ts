import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { decodePaymentRequiredHeader, decodePaymentResponseHeader } from '@x402/core/http';
import { generatePaymentId } from '@x402/extensions/payment-identifier';
import { privateKeyToAccount } from 'viem/accounts';
import type { Address, Hex } from 'viem';
import { verifyReceipt } from '../../core/receipts';
import { authorizationNonceKey } from '../../core/x402';
import { paidFetch } from '../../core/sdk/paid-fetch';
import type { LocalStackFile } from '../../local-stack/stack-file';
import { paymentRecordId } from '../../workers/payments/payment-record-id';
import { call } from '../support/gateway-client';
import { PAID_PRICE, sharedStack } from '../support/test-stack';
import { balances, paymentHeader, requirementsOf } from '../support/x402-payer';

let stack: LocalStackFile;
let balanceOf: (a: string) => Promise<bigint>;
before(async () => {
  stack = await sharedStack();
  balanceOf = balances(stack);
});

const body = JSON.stringify({
  inputs: { a: { type: 'float32', dims: [1, 4], data: [1, 2, 3, 4] }, b: { type: 'float32', dims: [1, 4], data: [2, 2, 2, 2] } },
});
const payer = () => privateKeyToAccount(stack.chain!.payerPrivateKey as Hex);
const url = (model: string) => `${stack.gateway}/v1/models/${model}/infer`;
const post = (model: string, headers: Record<string, string> = {}) =>
  fetch(url(model), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
const price = BigInt(PAID_PRICE);

async function recordOf(nonce: Hex): Promise<{ status: number; body: any }> {
  const req = await requirementsOf(url('paid-add'), body);
  const id = await paymentRecordId(authorizationNonceKey(stack.chain!.chainId, req.asset as Address, payer().address, nonce));
  return call(`${stack.gateway}/v1/payments/${id}`);
}

describe('x402 payments at the edge', () => {
  it('answers an unpaid call with 402 and the x402 v2 requirements, in the header and the body', async () => {
    const res = await post('paid-add');
    assert.equal(res.status, 402);
    const header = decodePaymentRequiredHeader(res.headers.get('payment-required')!);
    const json = (await res.json()) as Record<string, any>;
    assert.equal(json.x402Version, 2);
    assert.equal(json.error, 'payment_required');
    assert.deepEqual(header.accepts, json.accepts);
    assert.deepEqual(json.accepts[0], {
      scheme: 'exact',
      network: `eip155:${stack.chain!.chainId}`,
      amount: PAID_PRICE,
      asset: stack.chain!.token,
      payTo: stack.chain!.payTo,
      maxTimeoutSeconds: 300,
      extra: { name: stack.chain!.tokenName, version: stack.chain!.tokenVersion },
    });
    assert.ok(json.extensions['payment-identifier']);
  });

  it('is paid by the official client, settles before answering, and moves exactly the price', async () => {
    const [payerBefore, payToBefore] = [await balanceOf(payer().address), await balanceOf(stack.chain!.payTo)];
    const pay = paidFetch(payer(), { network: `eip155:${stack.chain!.chainId}`, asset: stack.chain!.token as Address });
    const res = await pay(url('paid-add'), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(res.status, 200);
    const settlement = decodePaymentResponseHeader(res.headers.get('payment-response')!);
    assert.equal(settlement.success, true);
    assert.match(settlement.transaction, /^0x[0-9a-f]{64}$/);
    const reply = (await res.json()) as any;
    assert.deepEqual(reply.outputs.sum.data, [3, 4, 5, 6]);
    assert.equal((await verifyReceipt(reply.receipt, { outputs: reply.outputs })).valid, true);
    assert.equal(await balanceOf(payer().address), payerBefore - price);
    assert.equal(await balanceOf(stack.chain!.payTo), payToBefore + price);
    const record = await call(`${stack.gateway}/v1/payments/${reply.payment.id}`);
    assert.equal(record.body.state, 'settled');
    assert.equal(record.body.transaction, settlement.transaction);
    assert.equal(record.body.requestId, reply.receipt.requestId);
  });

  it('serves one authorization once: a replay gets 402 payment_already_used and no second transfer', async () => {
    const req = await requirementsOf(url('paid-add'), body);
    const { header } = await paymentHeader(payer(), req);
    const first = await post('paid-add', { 'payment-signature': header });
    assert.equal(first.status, 200);
    const after = await balanceOf(payer().address);
    const replay = await post('paid-add', { 'payment-signature': header });
    assert.equal(replay.status, 402);
    assert.equal(((await replay.json()) as any).error, 'payment_already_used');
    assert.equal(await balanceOf(payer().address), after);
  });

  it('serves exactly one of 1,000 concurrent requests carrying one authorization, with one transfer', { timeout: 300_000 }, async () => {
    const req = await requirementsOf(url('paid-add'), body);
    const { header } = await paymentHeader(payer(), req);
    const before = await balanceOf(payer().address);
    const statuses = await Promise.all(
      Array.from({ length: 1000 }, async () => {
        const res = await post('paid-add', { 'payment-signature': header });
        await res.arrayBuffer();
        return res.status;
      }),
    );
    const counts: Record<number, number> = {};
    for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1;
    assert.equal(counts[200], 1, JSON.stringify(counts));
    assert.equal((counts[402] ?? 0) + (counts[409] ?? 0), 999, JSON.stringify(counts));
    assert.equal(await balanceOf(payer().address), before - price);
  });

  it('rejects each bad payment with 402 and a machine-readable reason, reserving nothing', async () => {
    const req = await requirementsOf(url('paid-add'), body);
    const now = BigInt(Math.floor(Date.now() / 1000));
    const stranger = privateKeyToAccount('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a84412f4603b6b78690');
    const cases: [string, Promise<{ header: string; nonce: Hex }> | { header: string; nonce: Hex | null }][] = [
      ['insufficient_amount', paymentHeader(payer(), req, { value: price - 1n })],
      ['amount_mismatch', paymentHeader(payer(), req, { value: price + 1n })],
      ['recipient_mismatch', paymentHeader(payer(), req, { to: stranger.address })],
      ['asset_mismatch', paymentHeader(payer(), req, {}, { asset: stranger.address })],
      ['network_mismatch', paymentHeader(payer(), req, {}, { network: 'eip155:1' })],
      ['authorization_expired', paymentHeader(payer(), req, { validBefore: now - 1n })],
      ['authorization_not_yet_valid', paymentHeader(payer(), req, { validAfter: now + 3600n })],
      ['invalid_signature', paymentHeader(payer(), req, { signer: stranger })],
      ['invalid_signature', paymentHeader(payer(), req, { chainId: 1 })],
      ['unsupported_scheme', paymentHeader(payer(), req, {}, { scheme: 'upto' })],
      ['invalid_payload', { header: 'not base64 json!', nonce: null }],
      ['invalid_payload', { header: Buffer.from('{"x402Version":2}').toString('base64'), nonce: null }],
    ];
    const before = await balanceOf(payer().address);
    for (const [code, made] of cases) {
      const { header, nonce } = await made;
      const res = await post('paid-add', { 'payment-signature': header });
      assert.equal(res.status, 402, code);
      const json = (await res.json()) as any;
      assert.equal(json.error, code, `${code}: ${json.message}`);
      assert.equal(json.x402Version, 2);
      if (nonce) assert.equal((await recordOf(nonce)).status, 404, `${code} reserved its nonce`);
    }
    assert.equal(await balanceOf(payer().address), before);
  });

  it('settles async payments after answering, within seconds', async () => {
    const before = await balanceOf(payer().address);
    const pay = paidFetch(payer(), { network: `eip155:${stack.chain!.chainId}`, asset: stack.chain!.token as Address });
    const res = await pay(url('paid-add-async'), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(res.status, 200);
    const reply = (await res.json()) as any;
    assert.equal(reply.payment.state, 'pending');
    let record: any;
    for (let i = 0; i < 100; i++) {
      record = (await call(`${stack.gateway}/v1/payments/${reply.payment.id}`)).body;
      if (record.state === 'settled') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(record.state, 'settled');
    assert.match(record.transaction, /^0x[0-9a-f]{64}$/);
    assert.equal(await balanceOf(payer().address), before - price);
  });

  it('answers a retry with the same payment-identifier with the first response, not a second charge', async () => {
    const paymentId = generatePaymentId();
    const pay = paidFetch(payer(), { network: `eip155:${stack.chain!.chainId}`, asset: stack.chain!.token as Address, paymentId });
    const before = await balanceOf(payer().address);
    const first = await pay(url('paid-add'), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(first.status, 200);
    const firstBody = await first.text();
    const retry = await pay(url('paid-add'), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(retry.status, 200);
    assert.equal(retry.headers.get('proofgate-replayed'), 'true');
    assert.equal(await retry.text(), firstBody);
    assert.equal(await balanceOf(payer().address), before - price);
  });
});
