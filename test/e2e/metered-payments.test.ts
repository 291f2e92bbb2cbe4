import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { before, describe, it } from 'node:test';
import { decodePaymentRequiredHeader, decodePaymentResponseHeader } from '@x402/core/http';
import { generatePaymentId } from '@x402/extensions/payment-identifier';
import { x402UptoPermit2ProxyAddress } from '@x402/evm';
import { createPublicClient, getAddress, http, type Address, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { ZERO_ADDRESS, ZERO_BYTES32, receiptCharge, verifyReceipt } from '../../core/receipts';
import { DEMO_METERED, METERED_DEMO_MODEL, demoModels } from '../../local-stack/demo-models';
import { publishModelFile } from '../../local-stack/launch';
import type { LocalStackFile } from '../../local-stack/stack-file';
import { testModels } from '../../scripts/generate-test-models';
import { call, postJson } from '../support/gateway-client';
import { paymentState, stateDirOf } from '../support/stored-state';
import { sharedStack } from '../support/test-stack';
import { uptoPaymentHeader } from '../support/upto-payer';
import { balances, fundedPayer, officialClient, paymentHeader, requirementsOf } from '../support/x402-payer';

// Metered models end to end on the real stack: a model priced per millisecond of backend run time,
// paid with x402 upto by the official client, charged exactly what the backend signed in its
// receipt (version 2: policy, model, input, output, run time, charge and payment under one
// signature), and every hostile-caller promise of exact payments kept for upto.

let stack: LocalStackFile;
let balanceOf: (a: string) => Promise<bigint>;
const run = Math.floor(Math.random() * 1e9).toString(36);
const cap = BigInt(DEMO_METERED.cap);
const admin = () => ({ authorization: `Bearer ${stack.adminToken}` });
const devPayer = () => privateKeyToAccount(stack.chain!.payerPrivateKey as Hex);
const url = (model: string) => `${stack.gateway}/v1/models/${model}/infer`;
const json = { method: 'POST', headers: { 'content-type': 'application/json' } } as const;

// A 32×32 image with a bright bar, as `npm start`'s demo request.
const image = () => {
  const data: number[] = [];
  for (let c = 0; c < 3; c++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) data.push(x > 8 && x < 24 && y > 12 && y < 20 ? 1 : -1);
  return { x: { type: 'float32', dims: [1, 3, 32, 32], data } };
};
const ocrBody = JSON.stringify({ inputs: image() });
const addInputs = (x: number) => ({
  a: { type: 'float32', dims: [1, 4], data: [x, 2, 3, 4] },
  b: { type: 'float32', dims: [1, 4], data: [1, 1, 1, 1] },
});
const addBody = (x = 1) => JSON.stringify({ inputs: addInputs(x) });

// A metered tiny-add whose cap is small, for the credit and replay tests: 11 + 7 per ms, at most 1000.
const meteredAdd = `metered-add-${run}`;
const ADD_TERMS = { ratePerMs: '7', base: '11', cap: '1000' };

async function publishMetered(name: string, bytes: Uint8Array, terms: { ratePerMs: string; base: string; cap: string }, settlement = 'sync') {
  const q = `pricing=metered&ratePerMs=${terms.ratePerMs}&base=${terms.base}&cap=${terms.cap}&settlement=${settlement}`;
  return call(`${stack.gateway}/v1/models/${name}/versions?${q}`, { method: 'POST', headers: admin(), body: bytes });
}

async function statusCounts(responses: Response[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const res of responses) {
    const body = (await res.json()) as { error?: string | { code: string } };
    const code = res.status === 200 ? '200' : `${res.status} ${typeof body.error === 'string' ? body.error : body.error?.code}`;
    counts[code] = (counts[code] ?? 0) + 1;
  }
  return counts;
}

/** The terms a receipt signed must price its run time as the publisher said. */
function assertCharged(receipt: any, terms: { ratePerMs: string; base: string; cap: string }): bigint {
  assert.deepEqual([receipt.priceBase, receipt.pricePerMs, receipt.priceCap], [terms.base, terms.ratePerMs, terms.cap]);
  assert.equal(receipt.charged, receiptCharge(receipt, receipt.runMs));
  const charged = BigInt(receipt.charged);
  assert.ok(charged > 0n && charged <= BigInt(terms.cap), `charged ${charged}`);
  return charged;
}

before(async () => {
  stack = await sharedStack();
  balanceOf = balances(stack);
  await publishModelFile(stack.gateway, stack.adminToken, METERED_DEMO_MODEL);
  const published = await publishMetered(meteredAdd, testModels().find((m) => m.name === 'tiny-add')!.bytes, ADD_TERMS);
  assert.equal(published.status, 201, JSON.stringify(published.body));
});

describe('publishing a metered model', () => {
  it('records the rate, base and cap, and lists them', async () => {
    const listed = (await call(`${stack.gateway}/v1/models`)).body.models.find((m: { name: string }) => m.name === 'ppocr-det-metered');
    assert.equal(listed.pricing, 'metered');
    assert.deepEqual([listed.price, listed.ratePerMs, listed.base], [DEMO_METERED.cap, DEMO_METERED.ratePerMs, DEMO_METERED.base]);
    const fixed = (await call(`${stack.gateway}/v1/models`)).body.models.find((m: { name: string }) => m.name === 'paid-add');
    assert.deepEqual([fixed.pricing, fixed.ratePerMs, fixed.base], ['fixed', '0', '0']);
    // The same bytes and terms again: the same version.
    const again = await publishModelFile(stack.gateway, stack.adminToken, METERED_DEMO_MODEL);
    assert.equal(again.version, listed.latestVersion);
  });

  describe('refuses pricing that does not make sense with 400 invalid_pricing, storing nothing', () => {
    const name = `bad-metered-${run}`;
    const bytes = testModels().find((m) => m.name === 'tiny-add')!.bytes;
    for (const query of [
      'pricing=metered&ratePerMs=0&cap=10',
      'pricing=metered&ratePerMs=1&base=11&cap=10',
      'pricing=metered&ratePerMs=1&cap=0',
      'pricing=metered&ratePerMs=1',
      'pricing=metered&ratePerMs=-1&cap=10',
      'pricing=metered&ratePerMs=1&cap=10&price=10',
      'price=10&ratePerMs=1',
      'pricing=hourly&price=10',
    ]) {
      it(query, async () => {
        const res = await call(`${stack.gateway}/v1/models/${name}/versions?${query}`, { method: 'POST', headers: admin(), body: bytes });
        assert.equal(res.status, 400);
        assert.equal(res.body.error.code, 'invalid_pricing');
        assert.equal((await call(`${stack.gateway}/v1/models/${name}`)).status, 404, 'no model was stored');
      });
    }
  });
});

describe('a metered call paid with x402 upto', () => {
  it('is offered upto only, with the cap as its amount', async () => {
    const res = await fetch(url('ppocr-det-metered'), { ...json, body: ocrBody });
    assert.equal(res.status, 402);
    const body = (await res.json()) as any;
    assert.deepEqual(decodePaymentRequiredHeader(res.headers.get('payment-required')!).accepts, body.accepts);
    assert.deepEqual(body.accepts, [
      {
        scheme: 'upto',
        network: `eip155:${stack.chain!.chainId}`,
        amount: DEMO_METERED.cap,
        asset: stack.chain!.token,
        payTo: stack.chain!.payTo,
        maxTimeoutSeconds: 300,
        extra: {
          name: stack.chain!.tokenName,
          version: stack.chain!.tokenVersion,
          assetTransferMethod: 'permit2',
          facilitatorAddress: stack.chain!.facilitatorAddress,
        },
      },
    ]);
    assert.match(body.message, /up to 100000/);
  });

  it('is paid by the official client (UptoEvmScheme): the payer moves exactly the charge the receipt signs, > 0 and ≤ the cap', async () => {
    const payer = devPayer();
    const [payerBefore, payToBefore] = [await balanceOf(payer.address), await balanceOf(stack.chain!.payTo)];
    const pay = officialClient(stack, payer, { scheme: 'upto' });
    const res = await pay(url('ppocr-det-metered'), { ...json, body: ocrBody });
    assert.equal(res.status, 200, await res.clone().text());
    const reply = (await res.json()) as any;
    const { receipt } = reply;
    const trustedBackends = stack.backends.map((b) => b.address as Address);
    assert.deepEqual((await verifyReceipt(receipt, { inputs: image(), outputs: reply.outputs, trustedBackends })).reasons, []);
    const charged = assertCharged(receipt, DEMO_METERED);
    assert.ok(Number.isSafeInteger(receipt.runMs) && receipt.runMs >= 1);
    // The payment's identity, signed: scheme, network, asset, payer, the Permit2 nonce; no policy bound.
    assert.equal(receipt.paymentScheme, 'upto');
    assert.equal(receipt.paymentNetwork, `eip155:${stack.chain!.chainId}`);
    assert.equal(getAddress(receipt.paymentAsset), getAddress(stack.chain!.token));
    assert.equal(receipt.payer, payer.address);
    assert.equal(receipt.policyId, ZERO_BYTES32);
    const record = (await call(`${stack.gateway}/v1/payments/${reply.payment.id}`)).body;
    assert.equal(receipt.paymentNonce, record.nonce.toLowerCase());
    assert.equal(record.charged, receipt.charged);
    assert.equal(record.requestId, receipt.requestId);

    const settlement = decodePaymentResponseHeader(res.headers.get('payment-response')!);
    assert.deepEqual(reply.payment, {
      id: reply.payment.id,
      scheme: 'upto',
      state: 'settled',
      maxAmount: DEMO_METERED.cap,
      charged: receipt.charged,
      transaction: settlement.transaction,
    });
    const tx = await createPublicClient({ transport: http(stack.chain!.rpc) }).getTransaction({ hash: settlement.transaction as Hex });
    assert.equal(getAddress(tx.to!), x402UptoPermit2ProxyAddress);
    assert.equal(await balanceOf(payer.address), payerBefore - charged);
    assert.equal(await balanceOf(stack.chain!.payTo), payToBefore + charged);
    // The stored receipt is the one answered.
    assert.deepEqual((await call(`${stack.gateway}/v1/receipts/${receipt.requestId}`)).body, receipt);
  });

  it('is refused for exact: an exact payment cannot charge by run time', async () => {
    const req = await requirementsOf(url(meteredAdd), addBody(), 'upto');
    const { header } = await paymentHeader(devPayer(), {
      ...req,
      scheme: 'exact',
      extra: { name: stack.chain!.tokenName, version: stack.chain!.tokenVersion },
    });
    const res = await postJson(url(meteredAdd), { inputs: addInputs(1) }, { 'payment-signature': header });
    assert.equal(res.status, 402);
    assert.equal(res.body.error, 'unsupported_scheme');
  });

  it('moves nothing and submits no transaction when the model rejects the input; the authorization then pays one good call', async () => {
    const name = `metered-vad-${run}`;
    assert.equal((await publishMetered(name, await readFile(demoModels()[0]!.file), ADD_TERMS)).status, 201);
    const good = {
      input: { type: 'float32', dims: [1, 512], data: new Array(512).fill(0) },
      state: { type: 'float32', dims: [2, 1, 128], data: new Array(256).fill(0) },
      sr: { type: 'int64', dims: [], data: [16000] },
    };
    const bad = { ...good, state: { type: 'float32', dims: [2, 3, 128], data: new Array(768).fill(0) } };
    const payer = await fundedPayer(stack, BigInt(ADD_TERMS.cap) * 2n, { approvePermit2: true });
    const goodBody = JSON.stringify({ inputs: good });
    const { header } = await uptoPaymentHeader(payer, await requirementsOf(url(name), goodBody, 'upto'));

    const rejected = await postJson(url(name), { inputs: bad }, { 'payment-signature': header });
    assert.equal(rejected.status, 422);
    assert.equal(rejected.body.error.code, 'model_rejected_input');
    const [row] = paymentState(stateDirOf(stack), [payer.address]).d1 as { state: string; transaction: string | null; charged: string | null }[];
    assert.deepEqual([row?.state, row?.transaction, row?.charged], ['released', null, null]);
    assert.equal(await balanceOf(payer.address), BigInt(ADD_TERMS.cap) * 2n);

    const served = await postJson(url(name), { inputs: good }, { 'payment-signature': header });
    assert.equal(served.status, 200, JSON.stringify(served.body));
    const charged = assertCharged(served.body.receipt, ADD_TERMS);
    assert.equal(served.body.payment.charged, served.body.receipt.charged);
    assert.equal(await balanceOf(payer.address), BigInt(ADD_TERMS.cap) * 2n - charged);
  });

  it('signs the admission policy that admitted the call', async () => {
    const modules = { 'allow.rego': 'package proofgate.admission\n\nallow := true\n' };
    const policy = (await postJson(`${stack.gateway}/v1/policies`, { modules }, admin())).body;
    const name = `metered-guarded-${run}`;
    assert.equal((await publishMetered(name, testModels().find((m) => m.name === 'tiny-add')!.bytes, ADD_TERMS)).status, 201);
    const bound = await call(`${stack.gateway}/v1/models/${name}/policy`, {
      method: 'PUT',
      headers: admin(),
      body: JSON.stringify({ policyId: policy.id }),
    });
    assert.equal(bound.status, 200, JSON.stringify(bound.body));
    const payer = await fundedPayer(stack, BigInt(ADD_TERMS.cap), { approvePermit2: true });
    const res = await officialClient(stack, payer, { scheme: 'upto' })(url(name), { ...json, body: addBody() });
    assert.equal(res.status, 200, await res.clone().text());
    const { receipt } = (await res.json()) as any;
    assert.equal(receipt.policyId, policy.id);
    assert.equal((await verifyReceipt(receipt)).valid, true);
    assert.equal((await verifyReceipt({ ...receipt, policyId: ZERO_BYTES32 })).valid, false);
  });
});

describe('free calls', () => {
  it('get a version 2 receipt that charges 0 and names no payment', async () => {
    const res = await postJson(url('tiny-add'), { inputs: addInputs(1) });
    assert.equal(res.status, 200);
    const r = res.body.receipt;
    assert.deepEqual(
      [r.charged, r.priceBase, r.pricePerMs, r.priceCap, r.paymentScheme, r.paymentNetwork, r.paymentAsset, r.payer, r.paymentNonce, r.policyId],
      ['0', '0', '0', '0', '', '', ZERO_ADDRESS, ZERO_ADDRESS, ZERO_BYTES32, ZERO_BYTES32],
    );
    assert.deepEqual((await verifyReceipt(r, { inputs: addInputs(1), outputs: res.body.outputs })).reasons, []);
  });
});

describe('hostile callers of a metered model', () => {
  describe('refuses each bent upto field with 402 and its reason, storing nothing', () => {
    const stranger = privateKeyToAccount('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a84412f4603b6b78690');
    const max = BigInt(ADD_TERMS.cap);
    let req: Awaited<ReturnType<typeof requirementsOf>>;
    // Shared by the cases, none of which it pays with.
    let fresh: Awaited<ReturnType<typeof fundedPayer>>;
    before(async () => {
      req = await requirementsOf(url(meteredAdd), addBody(), 'upto');
      fresh = await fundedPayer(stack, cap, { approvePermit2: true });
    });
    const nowS = () => Math.floor(Date.now() / 1000);
    const cases: [string, string, () => Parameters<typeof uptoPaymentHeader>[2]][] = [
      [
        'less than the cap',
        'insufficient_amount',
        () => ({ authorization: (a) => ({ ...a, permitted: { ...a.permitted, amount: String(max - 1n) } }) }),
      ],
      ['more than the cap', 'amount_mismatch', () => ({ authorization: (a) => ({ ...a, permitted: { ...a.permitted, amount: String(max + 1n) } }) })],
      ['another token', 'asset_mismatch', () => ({ authorization: (a) => ({ ...a, permitted: { ...a.permitted, token: stranger.address } }) })],
      ['another recipient', 'recipient_mismatch', () => ({ authorization: (a) => ({ ...a, witness: { ...a.witness, to: stranger.address } }) })],
      [
        'another facilitator',
        'facilitator_mismatch',
        () => ({ authorization: (a) => ({ ...a, witness: { ...a.witness, facilitator: stranger.address } }) }),
      ],
      ['a past deadline', 'authorization_expired', () => ({ authorization: (a) => ({ ...a, deadline: String(nowS() - 1) }) })],
      [
        'a validAfter to come',
        'authorization_not_yet_valid',
        () => ({ authorization: (a) => ({ ...a, witness: { ...a.witness, validAfter: String(nowS() + 3600) } }) }),
      ],
      ["a stranger's signature", 'invalid_signature', () => ({ signer: stranger })],
      ['a signature for another chain', 'invalid_signature', () => ({ chainId: 1 })],
      ['another network accepted', 'network_mismatch', () => ({ accepted: { network: 'eip155:1' } })],
      ['another scheme accepted', 'unsupported_scheme', () => ({ accepted: { scheme: 'exact' } })],
    ];
    for (const [name, code, bend] of cases) {
      it(`${name}: ${code}`, async () => {
        const stored = paymentState(stateDirOf(stack), [fresh.address]);
        const before = await balanceOf(fresh.address);
        const { header } = await uptoPaymentHeader(fresh, req, bend());
        const res = await postJson(url(meteredAdd), { inputs: addInputs(1) }, { 'payment-signature': header });
        assert.equal(res.status, 402, code);
        assert.equal(res.body.error, code, `${code}: ${res.body.message}`);
        assert.equal(await balanceOf(fresh.address), before);
        assert.deepEqual(paymentState(stateDirOf(stack), [fresh.address]), stored, 'no D1 row, no ledger, no ledger row');
      });
    }
  });

  it('serves one upto authorization once: a replay is refused and charges nothing more', async () => {
    const payer = await fundedPayer(stack, cap, { approvePermit2: true });
    const { header } = await uptoPaymentHeader(payer, await requirementsOf(url(meteredAdd), addBody(), 'upto'));
    const first = await postJson(url(meteredAdd), { inputs: addInputs(1) }, { 'payment-signature': header });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const charged = BigInt(first.body.receipt.charged);
    for (const model of [meteredAdd, 'ppocr-det-metered']) {
      const replay = await fetch(url(model), {
        ...json,
        body: model === meteredAdd ? addBody() : ocrBody,
        headers: { ...json.headers, 'payment-signature': header },
      });
      assert.equal(replay.status, 402, model);
      // Offered to the other model, its maximum is below that model's cap.
      assert.equal(((await replay.json()) as any).error, model === meteredAdd ? 'payment_already_used' : 'insufficient_amount');
    }
    assert.equal(await balanceOf(payer.address), cap - charged);
  });

  it('serves exactly one of 100 concurrent requests carrying one upto authorization, with one transfer', async () => {
    const payer = await fundedPayer(stack, cap, { approvePermit2: true });
    const { header } = await uptoPaymentHeader(payer, await requirementsOf(url(meteredAdd), addBody(), 'upto'));
    const responses = await Promise.all(
      Array.from({ length: 100 }, () =>
        fetch(url(meteredAdd), { ...json, body: addBody(), headers: { ...json.headers, 'payment-signature': header } }),
      ),
    );
    const served = responses.find((r) => r.status === 200)?.clone();
    const counts = await statusCounts(responses);
    assert.equal(counts['200'], 1, JSON.stringify(counts));
    assert.equal(
      Object.entries(counts).reduce((n, [k, v]) => n + (k.startsWith('402') || k.startsWith('409') ? v : 0), 0),
      99,
      JSON.stringify(counts),
    );
    const charged = BigInt(((await served!.json()) as any).receipt.charged);
    assert.equal(await balanceOf(payer.address), cap - charged);
  });

  it('bounds credit by the maxima reserved: a payer funded for one cap is served once out of 4', async () => {
    const max = BigInt(ADD_TERMS.cap);
    const payer = await fundedPayer(stack, max, { approvePermit2: true });
    const pay = officialClient(stack, payer, { scheme: 'upto' });
    const responses = await Promise.all(Array.from({ length: 4 }, (_, i) => pay(url(meteredAdd), { ...json, body: addBody(i) })));
    const served = responses.find((r) => r.status === 200)?.clone();
    assert.deepEqual(await statusCounts(responses), { '200': 1, '402 insufficient_funds': 3 });
    const charged = BigInt(((await served!.json()) as any).receipt.charged);
    assert.equal(await balanceOf(payer.address), max - charged);
  });

  it('answers a payment-identifier retry with the first answer and charge; another body is a conflict', async () => {
    const payer = await fundedPayer(stack, cap, { approvePermit2: true });
    const pay = officialClient(stack, payer, { scheme: 'upto', paymentId: generatePaymentId() });
    const first = await pay(url(meteredAdd), { ...json, body: addBody(3) });
    assert.equal(first.status, 200);
    const text = await first.text();
    const retry = await pay(url(meteredAdd), { ...json, body: addBody(3) });
    assert.equal(retry.headers.get('proofgate-replayed'), 'true');
    assert.equal(await retry.text(), text);
    const other = await pay(url(meteredAdd), { ...json, body: addBody(4) });
    assert.equal(other.status, 409);
    assert.equal(((await other.json()) as any).error.code, 'payment_identifier_conflict');
    assert.equal(await balanceOf(payer.address), cap - BigInt((JSON.parse(text) as any).receipt.charged));
  });
});
