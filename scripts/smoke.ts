import { parseArgs } from 'node:util';
import { decodePaymentRequiredHeader, decodePaymentResponseHeader } from '@x402/core/http';
import { privateKeyToAccount } from 'viem/accounts';
import type { Address, Hex } from 'viem';
import { verifyReceipt, type InferenceReceipt } from '../core/receipts';
import { paidFetch } from '../sdk/src/paid-fetch';

const HELP = `npm run smoke -- --gateway URL [options]

Checks a running gateway end to end, as docs/deploying.md does after a deploy:
  health   /healthz answers ok, JSON answers are not cacheable and carry a request id
  free     a free model answers, and its receipt verifies offline against a registered backend
  paid     (with PROOFGATE_PAYER_KEY) a priced model is paid with the official x402 client, the
           receipt verifies, and the payment is settled or pending
  intent   (with --policy-id, when operators are registered) an intent gets a quorum attestation
           that the gateway verifies

Options:
  --model NAME        free model to call (default: the first free one whose inputs have fixed shapes)
  --paid-model NAME   priced model to call (default: the first fixed-price one with fixed shapes)
  --policy-id 0x…     policy for the intent
  --chain-id N        chain id of the intent (default 31337)
  --expect LIST       steps that must run, e.g. free,paid,intent (default: none; a skipped step is not a failure)
Environment:
  PROOFGATE_PAYER_KEY a funded payer's private key, for the paid call (never pass keys as arguments)

Exit status 0 when every step that ran passed and every expected step ran.
`;

type Step = 'health' | 'free' | 'paid' | 'intent';

class Skip extends Error {}

interface ModelListing {
  name: string;
  latestVersion: number;
  sha256: Hex;
  price: string;
  /** `fixed` (paid with x402 `exact`) or `metered` (paid with `upto`). */
  pricing?: string;
  inputs: { name: string; type: string; dims: (number | null)[] | null }[];
}

interface Reply {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers of many shapes, each checked field by field below
  body: any;
}

async function request(url: string, init: RequestInit = {}, fetchImpl: typeof fetch = fetch): Promise<Reply> {
  const res = await fetchImpl(url, init);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, body };
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** Zero-valued JSON inputs for a model whose inputs all have fixed shapes, or null. */
function zeroInputs(model: ModelListing): Record<string, { type: string; dims: number[]; data: (number | string | boolean)[] }> | null {
  const inputs: Record<string, { type: string; dims: number[]; data: (number | string | boolean)[] }> = {};
  for (const input of model.inputs) {
    if (!input.dims || input.dims.some((d) => d === null)) return null;
    const dims = input.dims as number[];
    const count = dims.reduce((n, d) => n * d, 1);
    if (count > 1_000_000) return null;
    const zero = input.type === 'bool' ? false : input.type === 'int64' || input.type === 'uint64' ? '0' : 0;
    inputs[input.name] = { type: input.type, dims, data: new Array(count).fill(zero) };
  }
  return inputs;
}

// The paid step pays with x402 `exact`, so by default it picks a fixed-price model (metered ones offer only `upto`).
function pickModel(models: ModelListing[], name: string | undefined, priced: boolean): ModelListing {
  const candidates = models.filter(
    (m) => (m.price !== '0') === priced && (name ? m.name === name : zeroInputs(m) !== null && m.pricing !== 'metered'),
  );
  if (name && candidates.length === 0) throw new Error(`no ${priced ? 'priced' : 'free'} model named ${name}`);
  if (!candidates[0])
    throw new Skip(`no ${priced ? 'priced' : 'free'} model with fixed input shapes (publish one, or pass --${priced ? 'paid-' : ''}model)`);
  return candidates[0];
}

async function trustedBackends(gateway: string): Promise<Address[]> {
  const { status, body } = await request(`${gateway}/v1/backends`);
  check(status === 200, `GET /v1/backends answered ${status}`);
  const addresses = (body.backends as { address: Address; status: string }[]).map((b) => b.address);
  check(addresses.length > 0, 'no backend is registered');
  return addresses;
}

async function checkReceipt(model: ModelListing, inputs: Record<string, unknown>, reply: Reply, gateway: string): Promise<string> {
  check(reply.status === 200, `the call answered ${reply.status}: ${JSON.stringify(reply.body).slice(0, 300)}`);
  const receipt = reply.body.receipt as InferenceReceipt;
  const verdict = await verifyReceipt(receipt, {
    inputs,
    outputs: reply.body.outputs,
    trustedBackends: await trustedBackends(gateway),
    modelSha256: model.sha256,
  });
  check(verdict.valid, `the receipt does not verify: ${verdict.reasons.join(', ')}`);
  const stored = await request(`${gateway}/v1/receipts/${receipt.requestId}`);
  check(stored.status === 200 && stored.body.signature === receipt.signature, 'the gateway does not serve the receipt it returned');
  return `${model.name} v${model.latestVersion}, receipt ${receipt.requestId.slice(0, 10)}… signed by ${verdict.signer}`;
}

const steps: Record<Step, (ctx: SmokeContext) => Promise<string>> = {
  async health({ gateway }) {
    const health = await request(`${gateway}/healthz`);
    check(health.status === 200 && health.body.ok === true, `/healthz answered ${health.status} ${JSON.stringify(health.body)}`);
    check(health.headers.get('cache-control') === 'no-store', `/healthz is cacheable (${health.headers.get('cache-control')})`);
    check(health.headers.get('proofgate-request-id'), 'answers carry no proofgate-request-id');
    const index = await request(`${gateway}/`, { headers: { accept: 'application/json' } });
    check(index.status === 200 && Array.isArray(index.body.endpoints), 'GET / does not list the endpoints');
    return `${index.body.endpoints.length} endpoints`;
  },

  async free({ gateway, models, options }) {
    const model = pickModel(models, options.model, false);
    const inputs = zeroInputs(model);
    check(inputs, `${model.name} has inputs without fixed shapes`);
    const reply = await request(`${gateway}/v1/models/${model.name}/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs }),
    });
    return checkReceipt(model, inputs, reply, gateway);
  },

  async paid({ gateway, models, options, payerKey }) {
    if (!payerKey) throw new Skip('PROOFGATE_PAYER_KEY is not set');
    const model = pickModel(models, options.paidModel, true);
    const inputs = zeroInputs(model);
    check(inputs, `${model.name} has inputs without fixed shapes`);
    const url = `${gateway}/v1/models/${model.name}/infer`;
    const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs }) };
    const unpaid = await request(url, init);
    check(unpaid.status === 402, `an unpaid call answered ${unpaid.status}, not 402`);
    const header = unpaid.headers.get('payment-required');
    check(header, 'the 402 has no PAYMENT-REQUIRED header');
    const offer = decodePaymentRequiredHeader(header).accepts.find((a) => a.scheme === 'exact');
    check(offer, 'the 402 offers no exact payment');
    const pay = paidFetch(privateKeyToAccount(payerKey), { network: offer.network as `${string}:${string}`, asset: offer.asset as Address });
    const reply = await request(url, init, pay);
    const summary = await checkReceipt(model, inputs, reply, gateway);
    const paymentId = reply.body.payment?.id as string | undefined;
    check(paymentId, 'the paid answer names no payment');
    const settled = reply.headers.get('payment-response');
    if (settled) check(decodePaymentResponseHeader(settled).success, 'PAYMENT-RESPONSE reports a failure');
    const payment = await request(`${gateway}/v1/payments/${paymentId}`);
    check(payment.status === 200 && ['settled', 'pending', 'settling'].includes(payment.body.state), `payment ${paymentId} is ${payment.body.state}`);
    return `${summary}; paid ${offer.amount} on ${offer.network}, payment ${paymentId} ${payment.body.state}`;
  },

  async intent({ gateway, options }) {
    if (!options.policyId) throw new Skip('no --policy-id');
    const submitted = await request(`${gateway}/v1/intents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        intent: {
          from: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
          to: '0x90F79bf6EB2c4f870365E785982E1f101E93b906',
          value: '500000000000000000',
          data: '0x',
          chainId: options.chainId,
        },
        policyId: options.policyId,
        waitMs: 20_000,
      }),
    });
    if (submitted.status === 503 && submitted.body.error?.code === 'no_operators') throw new Skip('no active operator is registered');
    check(
      submitted.status === 200 || submitted.status === 202,
      `POST /v1/intents answered ${submitted.status}: ${JSON.stringify(submitted.body).slice(0, 300)}`,
    );
    let task = submitted.body;
    for (let polls = 0; task.status !== 'completed' && task.status !== 'failed' && polls < 60; polls++) {
      await new Promise((r) => setTimeout(r, 500));
      task = (await request(`${gateway}/v1/tasks/${task.taskId}`)).body;
    }
    check(task.status === 'completed' && task.attestation, `task ${task.taskId} ended ${task.status}: ${JSON.stringify(task.failure)}`);
    const verdict = await request(`${gateway}/v1/attestations/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ attestation: task.attestation, chainId: options.chainId, policyId: options.policyId, requireAllowed: false }),
    });
    check(verdict.body.valid === true, `the gateway does not verify the attestation: ${JSON.stringify(verdict.body)}`);
    const operators = task.signers.length + task.nonSigners.length;
    return `task ${task.taskId.slice(0, 10)}… ${task.attestation.allowed ? 'allowed' : 'denied'}, signed by ${task.signers.length} of ${operators} operators`;
  },
};

interface SmokeOptions {
  model?: string;
  paidModel?: string;
  policyId?: string;
  chainId: number;
}

interface SmokeContext {
  gateway: string;
  models: ModelListing[];
  options: SmokeOptions;
  payerKey?: Hex;
}

/** What one step did: passed, skipped (why) or failed (why). */
export interface StepResult {
  step: Step;
  outcome: 'ok' | 'skip' | 'FAIL';
  detail: string;
}

/** Runs every step against a gateway; a step's failure does not stop the others. */
export async function runSmoke(gateway: string, options: SmokeOptions, payerKey?: Hex): Promise<StepResult[]> {
  const base = gateway.replace(/\/+$/, '');
  const results: StepResult[] = [];
  let models: ModelListing[] = [];
  for (const step of ['health', 'free', 'paid', 'intent'] as const) {
    try {
      if (step === 'free') {
        const listing = await request(`${base}/v1/models`);
        check(listing.status === 200, `GET /v1/models answered ${listing.status}`);
        models = listing.body.models;
      }
      results.push({ step, outcome: 'ok', detail: await steps[step]({ gateway: base, models, options, ...(payerKey ? { payerKey } : {}) }) });
    } catch (err) {
      const skipped = err instanceof Skip;
      results.push({ step, outcome: skipped ? 'skip' : 'FAIL', detail: err instanceof Error ? err.message : String(err) });
    }
  }
  return results;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      gateway: { type: 'string' },
      model: { type: 'string' },
      'paid-model': { type: 'string' },
      'policy-id': { type: 'string' },
      'chain-id': { type: 'string', default: '31337' },
      expect: { type: 'string', default: '' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || !values.gateway) {
    process.stdout.write(HELP);
    process.exit(values.help ? 0 : 2);
  }
  const payerKey = process.env['PROOFGATE_PAYER_KEY'] as Hex | undefined;
  const results = await runSmoke(
    values.gateway,
    {
      ...(values.model ? { model: values.model } : {}),
      ...(values['paid-model'] ? { paidModel: values['paid-model'] } : {}),
      ...(values['policy-id'] ? { policyId: values['policy-id'] } : {}),
      chainId: Number(values['chain-id']),
    },
    payerKey || undefined,
  );
  for (const r of results) process.stdout.write(`${r.outcome.padEnd(5)} ${r.step.padEnd(7)} ${r.detail}\n`);
  const expected = values.expect!.split(',').filter(Boolean);
  const missing = expected.filter((e) => !results.some((r) => r.step === e && r.outcome === 'ok'));
  if (missing.length) process.stdout.write(`expected steps did not pass: ${missing.join(', ')}\n`);
  process.exit(results.some((r) => r.outcome === 'FAIL') || missing.length ? 1 : 0);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
