import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { LocalStackFile } from '../../local-stack/stack-file';
import { testModels } from '../../scripts/generate-test-models';
import { PriceAboveMaxError, createClient, getPayment, publishModel, receiptCharge, type InferResult } from '../../sdk/src/index';
import { PAID_PRICE, sharedStack } from '../support/test-stack';
import { balances, fundedPayer } from '../support/x402-payer';

// The SDK paying on the real stack: a paid answer lost on the way back is fetched again from
// /v1/payments/{id}/result instead of being paid twice, and a metered model is paid with x402 upto
// (its cap authorized, never above maxPrice) and charged exactly what its version 2 receipt signs.

let stack: LocalStackFile;
let balanceOf: (address: string) => Promise<bigint>;
const run = Date.now().toString(36);
const metered = `sdk-metered-${run}`;
const TERMS = { ratePerMs: '7', base: '11', cap: '1000' };

before(async () => {
  stack = await sharedStack();
  balanceOf = balances(stack);
  const add = testModels().find((m) => m.name === 'tiny-add')!;
  const published = await publishModel({ gateway: stack.gateway, adminToken: stack.adminToken }, metered, add.bytes, { metered: TERMS });
  assert.equal(published.pricing, 'metered');
});

const inputs = () => ({
  a: { dims: [1, 4], data: new Float32Array([1, 2, 3, 4]) },
  b: { dims: [1, 4], data: new Float32Array([Math.random(), 0, 0, 0]) },
});

function paying(account: Awaited<ReturnType<typeof fundedPayer>>, maxPrice: string, fetchImpl?: typeof fetch) {
  const chain = stack.chain!;
  return createClient({
    gateway: stack.gateway,
    account,
    maxPrice,
    payment: { network: `eip155:${chain.chainId}`, asset: chain.token as `0x${string}` },
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  });
}

describe('SDK payments on the real stack', () => {
  it('fetches a paid answer lost after it was sent from /v1/payments/{id}/result, and pays once', { timeout: 180_000 }, async () => {
    const payer = await fundedPayer(stack, 10_000n);
    const seen: string[] = [];
    let lost: { status: number; payment?: { id: string } } | undefined;
    // The network drops the paid answer: the gateway served, charged and stored it; the client never reads it.
    const lossy: typeof fetch = async (input, init) => {
      const request = new Request(input, init);
      const paid = request.headers.has('payment-signature') || request.headers.has('x-payment');
      seen.push(`${request.method} ${new URL(request.url).pathname}${paid ? ' (paid)' : ''}`);
      const res = await fetch(request);
      if (paid && !lost && request.method === 'POST') {
        lost = { status: res.status, ...(res.ok ? { payment: ((await res.json()) as { payment: { id: string } }).payment } : {}) };
        throw new TypeError('fetch failed: the connection was reset');
      }
      return res;
    };
    const before = await balanceOf(payer.address);
    const call: InferResult = await paying(payer, PAID_PRICE, lossy).infer('paid-add', inputs(), { transport: 'json' });

    assert.equal(lost?.status, 200, 'the first paid request was served');
    // (Besides these, the SDK reads the registered backends and the model's versions to verify the receipt.)
    assert.deepEqual(
      seen.filter((s) => s.includes('/infer') || s.includes('/v1/payments/')),
      [
        'POST /v1/models/paid-add/infer',
        'POST /v1/models/paid-add/infer (paid)',
        'POST /v1/models/paid-add/infer (paid)',
        `GET /v1/payments/${lost!.payment!.id}/result (paid)`,
      ],
    );
    assert.equal(call.verification?.valid, true, call.verification?.reasons.join());
    assert.equal(call.payment?.id, lost!.payment!.id, 'the answer of the payment made');
    assert.equal(call.payment?.replayed, true);
    assert.equal(call.payment?.state, 'settled');
    assert.deepEqual(Array.from(call.outputs['sum']!.data as Float32Array).slice(1), [2, 3, 4]);
    assert.equal(before - (await balanceOf(payer.address)), BigInt(PAID_PRICE), 'charged once');
    const record = await getPayment({ gateway: stack.gateway }, call.payment!.id!);
    assert.equal(record.state, 'settled');
    assert.equal(record.charged, PAID_PRICE);
  });

  it('pays a metered model with upto within maxPrice and is charged what its v2 receipt signs', { timeout: 180_000 }, async () => {
    const payer = await fundedPayer(stack, 100_000n, { approvePermit2: true });
    const before = await balanceOf(payer.address);

    await assert.rejects(paying(payer, '999').infer(metered, inputs()), (err: unknown) => {
      assert.ok(err instanceof PriceAboveMaxError);
      assert.equal(err.code, 'price_above_max');
      assert.equal(err.details?.['price'], TERMS.cap, "a metered call's price is its cap");
      return true;
    });
    assert.equal(await balanceOf(payer.address), before, 'nothing signed, nothing paid');

    const call = await paying(payer, TERMS.cap).infer(metered, inputs());
    assert.equal(call.verification?.valid, true, call.verification?.reasons.join());
    const r = call.receipt;
    assert.equal(r.paymentScheme, 'upto');
    assert.equal(r.payer?.toLowerCase(), payer.address.toLowerCase());
    assert.deepEqual([r.priceBase, r.pricePerMs, r.priceCap], [TERMS.base, TERMS.ratePerMs, TERMS.cap]);
    assert.equal(r.charged, receiptCharge({ priceBase: r.priceBase!, pricePerMs: r.pricePerMs!, priceCap: r.priceCap! }, r.runMs!));
    assert.equal(call.payment?.scheme, 'upto');
    assert.equal(call.payment?.amount, TERMS.cap, 'the cap is what was authorized');
    assert.equal(call.payment?.charged, r.charged);
    assert.equal(before - (await balanceOf(payer.address)), BigInt(r.charged!), 'charged exactly what the receipt signs');
  });
});
