import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { before, describe, it } from 'node:test';
import { generatePaymentId } from '@x402/extensions/payment-identifier';
import { parseAbi, type Address, type Hex, type LocalAccount } from 'viem';
import { anvilDevAccounts } from '../../chain/anvil';
import { connect } from '../../chain/clients';
import { TENSOR_TYPES } from '../../core/tensors';
import { demoModels } from '../../local-stack/demo-models';
import type { LocalStackFile } from '../../local-stack/stack-file';
import { testModels } from '../../scripts/generate-test-models';
import { call } from '../support/gateway-client';
import { pollUntil } from '../support/poll';
import { seededRandom } from '../support/seeded-random';
import { ledgerState, paymentState, stateDirOf } from '../support/stored-state';
import { PAID_PRICE, sharedStack } from '../support/test-stack';
import { balances, fundedPayer, officialClient, paymentHeader, requirementsOf } from '../support/x402-payer';

// Hostile callers against the real stack (workerd with D1 and Durable Objects, anvil, the
// facilitator): each test attacks one of the payment promises and checks what the chain and the
// stored state say afterwards, not only what the gateway answered.

let stack: LocalStackFile;
let balanceOf: (a: string) => Promise<bigint>;
const price = BigInt(PAID_PRICE);
const run = Math.floor(Math.random() * 1e9).toString(36);

before(async () => {
  stack = await sharedStack();
  balanceOf = balances(stack);
});

const addInputs = (x: number) => ({
  inputs: { a: { type: 'float32', dims: [1, 4], data: [x, 2, 3, 4] }, b: { type: 'float32', dims: [1, 4], data: [1, 1, 1, 1] } },
});
const addBody = JSON.stringify(addInputs(1));
const url = (model: string, query = '') => `${stack.gateway}/v1/models/${model}/infer${query}`;
const post = (target: string, body: string, headers: Record<string, string> = {}) =>
  fetch(target, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
const json = { method: 'POST', headers: { 'content-type': 'application/json' } } as const;

async function publish(name: string, bytes: Uint8Array, modelPrice: string, settlement: 'sync' | 'async' = 'sync'): Promise<number> {
  const res = await fetch(`${stack.gateway}/v1/models/${name}/versions?price=${modelPrice}&settlement=${settlement}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  const text = await res.text();
  assert.ok(res.ok, text);
  return (JSON.parse(text) as { version: number }).version;
}

const tinyAdd = () => testModels().find((m) => m.name === 'tiny-add')!.bytes;

/** How many answers had each status and error code ("200", "402 insufficient_funds", …). */
async function statusCounts(responses: Response[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const res of responses) {
    const body = (await res.json()) as { error?: string | { code: string } };
    const code = res.status === 200 ? '200' : `${res.status} ${typeof body.error === 'string' ? body.error : body.error?.code}`;
    counts[code] = (counts[code] ?? 0) + 1;
  }
  return counts;
}

function waitForState(id: string, state: string): Promise<any> {
  return pollUntil(
    `payment ${id} to be ${state}`,
    async () => (await call(`${stack.gateway}/v1/payments/${id}`)).body,
    (r) => r.state === state,
    {
      timeoutMs: 60_000,
    },
  );
}

describe('credit is bounded by what the payer holds', () => {
  it('serves a payer funded for one call once, out of a burst of 8 async calls with 8 authorizations', async () => {
    const payer = await fundedPayer(stack, price);
    const req = await requirementsOf(url('paid-add-async'), addBody);
    const headers = await Promise.all(Array.from({ length: 8 }, () => paymentHeader(payer, req)));
    const responses = await Promise.all(headers.map(({ header }) => post(url('paid-add-async'), addBody, { 'payment-signature': header })));
    const served = responses.find((r) => r.status === 200)?.clone();
    assert.deepEqual(await statusCounts(responses), { '200': 1, '402 insufficient_funds': 7 });
    const reply = (await served!.json()) as any;
    await waitForState(reply.payment.id, 'settled');
    assert.equal(await balanceOf(payer.address), 0n);
    const rows = paymentState(stateDirOf(stack), [payer.address]);
    assert.deepEqual(
      rows.d1.map((r) => r['state']),
      ['settled'],
      'the refused calls stored nothing',
    );
  });

  it('bounds upto maxima the same way: a payer funded for one call is served once out of 4', async () => {
    const payer = await fundedPayer(stack, price, { approvePermit2: true });
    const pay = officialClient(stack, payer, { scheme: 'upto' });
    const responses = await Promise.all(
      Array.from({ length: 4 }, (_, i) => pay(url('paid-add-async'), { ...json, body: JSON.stringify(addInputs(i)) })),
    );
    assert.deepEqual(await statusCounts(responses), { '200': 1, '402 insufficient_funds': 3 });
  });
});

describe('a price is what the publisher says a call costs now', () => {
  it('charges a call to an older free or cheaper version the current price', async () => {
    const name = `priced-later-${run}`;
    assert.equal(await publish(name, tinyAdd(), '0'), 1);
    assert.equal(await publish(name, tinyAdd(), PAID_PRICE), 2);
    // Version 1 was free when published; the model costs PAID_PRICE now.
    const unpaid = await post(url(name, '?version=1'), addBody);
    assert.equal(unpaid.status, 402, await unpaid.clone().text());
    assert.equal(((await unpaid.json()) as any).accepts[0].amount, PAID_PRICE);

    const payer = await fundedPayer(stack, price * 4n);
    const paid = await officialClient(stack, payer)(url(name, '?version=1'), { ...json, body: addBody });
    assert.equal(paid.status, 200, await paid.clone().text());
    const reply = (await paid.json()) as any;
    assert.equal(reply.model.version, 1);
    assert.equal(reply.payment.charged, PAID_PRICE);
    assert.equal(await balanceOf(payer.address), price * 3n);

    // The price went up in version 3: version 2's old price no longer buys a call.
    assert.equal(await publish(name, tinyAdd(), (price * 2n).toString()), 3);
    const stale = await paymentHeader(payer, { ...(await requirementsOf(url(name), addBody)), amount: PAID_PRICE });
    const refused = await post(url(name, '?version=2'), addBody, { 'payment-signature': stale.header });
    assert.equal(refused.status, 402);
    assert.equal(((await refused.json()) as any).error, 'insufficient_amount');
    assert.equal(await balanceOf(payer.address), price * 3n);
  });
});

describe('one payment buys one call', () => {
  it('answers the same payment-identifier with a different body 409 payment_identifier_conflict, charging nothing more', async () => {
    const payer = await fundedPayer(stack, price * 4n);
    const paymentId = generatePaymentId();
    const pay = officialClient(stack, payer, { paymentId });
    const first = await pay(url('paid-add'), { ...json, body: addBody });
    assert.equal(first.status, 200);
    await first.arrayBuffer();
    const otherBody = await pay(url('paid-add'), { ...json, body: JSON.stringify(addInputs(9)) });
    assert.equal(otherBody.status, 409);
    assert.equal(((await otherBody.json()) as any).error.code, 'payment_identifier_conflict');
    const otherModel = await pay(url('paid-add-async'), { ...json, body: addBody });
    assert.equal(otherModel.status, 409);
    assert.equal(((await otherModel.json()) as any).error.code, 'payment_identifier_conflict');
    assert.equal(await balanceOf(payer.address), price * 3n);
  });

  it('serves one authorization offered to two priced models once, with one transfer', async () => {
    const payer = await fundedPayer(stack, price * 4n);
    const { header } = await paymentHeader(payer, await requirementsOf(url('paid-add'), addBody));
    const [a, b] = await Promise.all([
      post(url('paid-add'), addBody, { 'payment-signature': header }),
      post(url('paid-add-async'), addBody, { 'payment-signature': header }),
    ]);
    const counts = await statusCounts([a, b]);
    assert.equal(counts['200'], 1, JSON.stringify(counts));
    // Sequentially too: whichever model is asked, a used authorization is used.
    for (const model of ['paid-add', 'paid-add-async']) {
      const again = await post(url(model), addBody, { 'payment-signature': header });
      assert.equal(again.status, 402);
      assert.equal(((await again.json()) as any).error, 'payment_already_used');
    }
    const settledId = (paymentState(stateDirOf(stack), [payer.address]).d1[0] as { id: string }).id;
    await waitForState(settledId, 'settled');
    assert.equal(await balanceOf(payer.address), price * 3n);
  });
});

describe('the chain is asked before any work, and a refusal stores nothing', () => {
  /** Refuses `header` from `who` with 402 `code`, moving nothing and storing no row or ledger. */
  async function refusedWithoutTrace(code: string, who: LocalAccount, header: string): Promise<void> {
    const stored = paymentState(stateDirOf(stack), [who.address]);
    const before = await balanceOf(who.address);
    const res = await post(url('paid-add'), addBody, { 'payment-signature': header });
    assert.equal(res.status, 402, code);
    assert.equal(((await res.json()) as any).error, code);
    assert.equal(await balanceOf(who.address), before);
    assert.deepEqual(paymentState(stateDirOf(stack), [who.address]), stored, 'no D1 row, no ledger instance, no ledger row');
  }

  it('refuses insufficient_funds without a row or a ledger', async () => {
    const req = await requirementsOf(url('paid-add'), addBody);
    const broke = await fundedPayer(stack, price - 1n);
    await refusedWithoutTrace('insufficient_funds', broke, (await paymentHeader(broke, req)).header);
  });

  it('refuses authorization_already_used (used on chain directly) without a row or a ledger', async () => {
    const req = await requirementsOf(url('paid-add'), addBody);
    const spent = await fundedPayer(stack, price * 2n);
    const spentPayment = await paymentHeader(spent, req);
    // The payer's authorization is used on chain directly (anyone may submit it), not through the gateway.
    const { payload } = JSON.parse(Buffer.from(spentPayment.header, 'base64').toString('utf8')) as {
      payload: { signature: Hex; authorization: { from: Address; to: Address; value: string; validAfter: string; validBefore: string; nonce: Hex } };
    };
    const submitter = await connect(stack.chain!.rpc, anvilDevAccounts(6)[5]!.privateKey);
    const a = payload.authorization;
    const hash = await submitter.walletClient.writeContract({
      address: stack.chain!.token as Address,
      abi: parseAbi(['function transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,bytes)']),
      functionName: 'transferWithAuthorization',
      args: [a.from, a.to, BigInt(a.value), BigInt(a.validAfter), BigInt(a.validBefore), a.nonce, payload.signature],
    });
    await submitter.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 });
    await refusedWithoutTrace('authorization_already_used', spent, spentPayment.header);
  });
});

describe('a call that fails is not charged', () => {
  it('releases the reservation of a priced call the model rejects (422); the authorization then pays one good call', async () => {
    const name = `paid-vad-${run}`;
    await publish(name, await readFile(demoModels()[0]!.file), PAID_PRICE);
    const good = {
      input: { type: 'float32', dims: [1, 512], data: new Array(512).fill(0) },
      state: { type: 'float32', dims: [2, 1, 128], data: new Array(256).fill(0) },
      sr: { type: 'int64', dims: [], data: [16000] },
    };
    const bad = { ...good, state: { type: 'float32', dims: [2, 3, 128], data: new Array(768).fill(0) } };
    const payer = await fundedPayer(stack, price * 2n);
    const goodBody = JSON.stringify({ inputs: good });
    const { header } = await paymentHeader(payer, await requirementsOf(url(name), goodBody));

    const rejected = await post(url(name), JSON.stringify({ inputs: bad }), { 'payment-signature': header });
    assert.equal(rejected.status, 422);
    assert.equal(((await rejected.json()) as any).error.code, 'model_rejected_input');
    const [row] = paymentState(stateDirOf(stack), [payer.address]).d1 as { id: string; state: string; error: string }[];
    assert.equal(row?.state, 'released');
    assert.match(row.error, /model_rejected_input/);
    assert.equal(await balanceOf(payer.address), price * 2n);

    const served = await post(url(name), goodBody, { 'payment-signature': header });
    assert.equal(served.status, 200, await served.clone().text());
    assert.equal(((await served.json()) as any).payment.state, 'settled');
    assert.equal(await balanceOf(payer.address), price);
  });
});

describe('replies too large for a Durable Object value', () => {
  it('are kept in R2 and replayed whole to a retry with the same payment-identifier', async () => {
    const name = `paid-types-${run}`;
    await publish(name, testModels().find((m) => m.name === 'tiny-types')!.bytes, PAID_PRICE);
    const n = 100_000;
    const random = seededRandom(7);
    const inputs = Object.fromEntries(
      TENSOR_TYPES.map((t) => [
        `x_${t}`,
        { type: t, dims: [n], data: t === 'float32' ? Array.from({ length: n }, () => random()) : new Array(n).fill(t === 'bool' ? false : 0) },
      ]),
    );
    const body = JSON.stringify({ inputs });
    const payer = await fundedPayer(stack, price * 2n);
    const pay = officialClient(stack, payer, { paymentId: generatePaymentId() });
    const first = await pay(url(name), { ...json, body });
    assert.equal(first.status, 200, first.status === 200 ? '' : await first.text());
    const firstText = await first.text();
    assert.ok(firstText.length > 2 * 1024 * 1024, `the reply is ${firstText.length} bytes`);
    const retry = await pay(url(name), { ...json, body });
    assert.equal(retry.status, 200);
    assert.equal(retry.headers.get('proofgate-replayed'), 'true');
    assert.equal(await retry.text(), firstText);
    assert.equal(await balanceOf(payer.address), price);
    const rows = ledgerState(stateDirOf(stack))
      .flatMap((l) => l.rows)
      .filter((r) => String(r['reservation']).includes(payer.address));
    assert.equal(rows.length, 1);
    assert.match(String(rows[0]!['reply']), /^\{"bodyRef":"replies\/0x[0-9a-f]{64}"\}$/);
  });
});
