import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { decodePaymentRequiredHeader, decodePaymentResponseHeader } from '@x402/core/http';
import { generatePaymentId } from '@x402/extensions/payment-identifier';
import { x402UptoPermit2ProxyAddress } from '@x402/evm';
import { privateKeyToAccount } from 'viem/accounts';
import { createPublicClient, getAddress, http, type Address, type Hex } from 'viem';
import { verifyReceipt } from '../../core/receipts';
import { authorizationNonceKey } from '../../core/x402';
import { paidFetch } from '../../sdk/src/paid-fetch';
import type { LocalStackFile } from '../../local-stack/stack-file';
import { paymentRecordId } from '../../workers/payments/payment-record-id';
import { call } from '../support/gateway-client';
import { paymentState, stateDirOf } from '../support/stored-state';
import { PAID_PRICE, sharedStack } from '../support/test-stack';
import { balances, fundedPayer, legacyPaymentHeader, officialClient, paymentHeader, requirementsOf } from '../support/x402-payer';
import { pollUntil } from '../support/poll';

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
    const terms = {
      network: `eip155:${stack.chain!.chainId}`,
      amount: PAID_PRICE,
      asset: stack.chain!.token,
      payTo: stack.chain!.payTo,
      maxTimeoutSeconds: 300,
    };
    assert.deepEqual(json.accepts, [
      { scheme: 'exact', ...terms, extra: { name: stack.chain!.tokenName, version: stack.chain!.tokenVersion } },
      {
        scheme: 'upto',
        ...terms,
        extra: {
          name: stack.chain!.tokenName,
          version: stack.chain!.tokenVersion,
          assetTransferMethod: 'permit2',
          facilitatorAddress: stack.chain!.facilitatorAddress,
        },
      },
    ]);
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
    assert.deepEqual(reply.payment, {
      id: reply.payment.id,
      scheme: 'exact',
      state: 'settled',
      maxAmount: PAID_PRICE,
      charged: PAID_PRICE,
      transaction: settlement.transaction,
    });
    const record = await call(`${stack.gateway}/v1/payments/${reply.payment.id}`);
    assert.equal(record.body.state, 'settled');
    assert.equal(record.body.transaction, settlement.transaction);
    assert.equal(record.body.requestId, reply.receipt.requestId);
    assert.equal(record.body.charged, PAID_PRICE);
  });

  it('is paid with upto by the official client: a Permit2 maximum through the upto proxy, charged the price', async () => {
    const [payerBefore, payToBefore] = [await balanceOf(payer().address), await balanceOf(stack.chain!.payTo)];
    const pay = officialClient(stack, payer(), { scheme: 'upto' });
    const res = await pay(url('paid-add'), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(res.status, 200, await res.clone().text());
    const settlement = decodePaymentResponseHeader(res.headers.get('payment-response')!);
    const reply = (await res.json()) as any;
    assert.deepEqual(reply.outputs.sum.data, [3, 4, 5, 6]);
    assert.deepEqual(reply.payment, {
      id: reply.payment.id,
      scheme: 'upto',
      state: 'settled',
      maxAmount: PAID_PRICE,
      charged: PAID_PRICE,
      transaction: settlement.transaction,
    });
    const tx = await createPublicClient({ transport: http(stack.chain!.rpc) }).getTransaction({ hash: settlement.transaction as Hex });
    assert.equal(getAddress(tx.to!), x402UptoPermit2ProxyAddress);
    assert.equal(await balanceOf(payer().address), payerBefore - price);
    assert.equal(await balanceOf(stack.chain!.payTo), payToBefore + price);
  });

  it('settles a legacy x402 v1 X-PAYMENT on chain, like a v2 one', async () => {
    const before = await balanceOf(payer().address);
    const { header } = await legacyPaymentHeader(payer(), await requirementsOf(url('paid-add'), body));
    const res = await post('paid-add', { 'x-payment': header });
    assert.equal(res.status, 200, await res.clone().text());
    const reply = (await res.json()) as any;
    assert.equal(reply.payment.state, 'settled');
    assert.match(reply.payment.transaction, /^0x[0-9a-f]{64}$/);
    assert.equal(await balanceOf(payer().address), before - price);
    const replay = await post('paid-add', { 'x-payment': header });
    assert.equal(replay.status, 402);
    assert.equal(((await replay.json()) as any).error, 'payment_already_used');
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

  it('gives a lost answer back to whoever presents the authorization that paid for it, never charging again', async () => {
    const req = await requirementsOf(url('paid-add'), body);
    const { header, nonce } = await paymentHeader(payer(), req);
    const first = await post('paid-add', { 'payment-signature': header });
    assert.equal(first.status, 200);
    const firstReply = (await first.json()) as any;
    const after = await balanceOf(payer().address);
    const id = firstReply.payment.id as string;

    const again = await post('paid-add', { 'payment-signature': header });
    assert.equal(again.status, 402);
    const refusal = (await again.json()) as any;
    assert.equal(refusal.error, 'payment_already_used');
    assert.match(refusal.message, new RegExp(`/v1/payments/${id}/result`));

    const result = await fetch(`${stack.gateway}/v1/payments/${id}/result`, { headers: { 'payment-signature': header } });
    assert.equal(result.status, 200, await result.clone().text());
    assert.equal(result.headers.get('proofgate-replayed'), 'true');
    const replayed = (await result.json()) as any;
    assert.deepEqual(replayed.outputs, firstReply.outputs);
    assert.equal(replayed.receipt.requestId, firstReply.receipt.requestId);

    const withoutProof = await call(`${stack.gateway}/v1/payments/${id}/result`);
    assert.equal(withoutProof.status, 401);
    assert.equal(withoutProof.body.error.code, 'payment_proof_required');
    const other = await paymentHeader(payer(), req);
    const wrongProof = await call(`${stack.gateway}/v1/payments/${id}/result`, { headers: { 'payment-signature': other.header } });
    assert.equal(wrongProof.status, 404);
    assert.equal(wrongProof.body.error.code, 'payment_result_not_found');
    assert.equal(await balanceOf(payer().address), after);
    assert.equal((await recordOf(nonce)).body.state, 'settled');
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

  describe('rejects each bad payment with 402 and a machine-readable reason, storing nothing', () => {
    const stranger = privateKeyToAccount('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a84412f4603b6b78690');
    let req: Awaited<ReturnType<typeof requirementsOf>>;
    // A payer with funds and no payments yet: no ledger of theirs may appear. Shared; no case pays with it.
    let fresh: Awaited<ReturnType<typeof fundedPayer>>;
    before(async () => {
      req = await requirementsOf(url('paid-add'), body);
      fresh = await fundedPayer(stack, price * 10n);
    });
    type Made = Promise<{ header: string; nonce: Hex }> | { header: string; nonce: Hex | null };
    const nowS = () => BigInt(Math.floor(Date.now() / 1000));
    const cases: [string, string, () => Made][] = [
      ['less than the price', 'insufficient_amount', () => paymentHeader(payer(), req, { value: price - 1n })],
      ['more than the price', 'amount_mismatch', () => paymentHeader(payer(), req, { value: price + 1n })],
      ['another recipient', 'recipient_mismatch', () => paymentHeader(payer(), req, { to: stranger.address })],
      ['another asset', 'asset_mismatch', () => paymentHeader(payer(), req, {}, { asset: stranger.address })],
      ['another network', 'network_mismatch', () => paymentHeader(payer(), req, {}, { network: 'eip155:1' })],
      ['expired', 'authorization_expired', () => paymentHeader(payer(), req, { validBefore: nowS() - 1n })],
      ['not yet valid', 'authorization_not_yet_valid', () => paymentHeader(payer(), req, { validAfter: nowS() + 3600n })],
      ["a stranger's signature", 'invalid_signature', () => paymentHeader(payer(), req, { signer: stranger })],
      ["the payer's signature for another chain", 'invalid_signature', () => paymentHeader(payer(), req, { chainId: 1 })],
      ['an unknown scheme', 'unsupported_scheme', () => paymentHeader(payer(), req, {}, { scheme: 'batch' })],
      ['an exact payload as upto', 'invalid_payload', () => paymentHeader(payer(), req, {}, { scheme: 'upto' })],
      [
        'expiring within the settlement margin, from a fresh payer',
        'authorization_expired',
        () => paymentHeader(fresh, req, { validBefore: nowS() + 20n }),
      ],
      ["a stranger's signature, from a fresh payer", 'invalid_signature', () => paymentHeader(fresh, req, { signer: stranger })],
      ['less than the price, from a fresh payer', 'insufficient_amount', () => paymentHeader(fresh, req, { value: price - 1n })],
      ['a header that is not base64 JSON', 'invalid_payload', () => ({ header: 'not base64 json!', nonce: null })],
      ['a header without a payload', 'invalid_payload', () => ({ header: Buffer.from('{"x402Version":2}').toString('base64'), nonce: null })],
    ];
    for (const [name, code, make] of cases) {
      it(`${name}: ${code}`, async () => {
        const stored = paymentState(stateDirOf(stack), [fresh.address, payer().address]);
        const before = await balanceOf(payer().address);
        const { header, nonce } = await make();
        const res = await post('paid-add', { 'payment-signature': header });
        assert.equal(res.status, 402, code);
        const json = (await res.json()) as any;
        assert.equal(json.error, code, `${code}: ${json.message}`);
        assert.equal(json.x402Version, 2);
        if (nonce) assert.equal((await recordOf(nonce)).status, 404, `${code} reserved its nonce`);
        assert.equal(await balanceOf(payer().address), before);
        assert.deepEqual(
          paymentState(stateDirOf(stack), [fresh.address, payer().address]),
          stored,
          'a refused payment stores nothing: no D1 row, no ledger, no ledger row',
        );
      });
    }
  });

  it('settles async payments after answering, within seconds', async () => {
    const before = await balanceOf(payer().address);
    const pay = paidFetch(payer(), { network: `eip155:${stack.chain!.chainId}`, asset: stack.chain!.token as Address });
    const res = await pay(url('paid-add-async'), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(res.status, 200);
    const reply = (await res.json()) as any;
    assert.equal(reply.payment.state, 'pending');
    const record: any = await pollUntil(
      `payment ${reply.payment.id} to settle`,
      async () => (await call(`${stack.gateway}/v1/payments/${reply.payment.id}`)).body,
      (r: any) => r.state === 'settled',
      { timeoutMs: 60_000 },
    );
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
