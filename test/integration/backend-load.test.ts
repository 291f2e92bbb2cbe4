import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { verifyReceipt } from '../../core/receipts';
import type { JsonTensor } from '../../core/tensors';
import type { LocalStack } from '../../local-stack/launch';
import { testModels } from '../../scripts/generate-test-models';
import { call, postJson, type JsonReply } from '../support/gateway-client';
import { GatedSessionPool, attachInProcessBackend, type InProcessBackend } from '../support/in-process-backend';
import { seededRandom } from '../support/seeded-random';
import { launchTestStack } from '../support/test-stack';
import { pollUntil } from '../support/poll';

// A stack of its own with no backend processes: this file attaches in-process backends (real
// server, queue, onnxruntime and keys) whose runs it can hold, to reach full queues and drains
// exactly, and watches what the gateway does with them.

let stack: LocalStack;
const attached: InProcessBackend[] = [];
before(async () => {
  stack = await launchTestStack({ backends: 0 });
});
after(async () => {
  for (const b of attached) await b.stop().catch(() => undefined);
  await stack.stop();
});

async function attach(opts: Parameters<typeof attachInProcessBackend>[2] = {}): Promise<InProcessBackend> {
  const b = await attachInProcessBackend(stack.gateway, stack.operatorToken, opts);
  attached.push(b);
  return b;
}

function batchInput(seed: number): Record<string, JsonTensor> {
  const rand = seededRandom(seed);
  return { x: { type: 'float32', dims: [1, 32], data: Array.from({ length: 32 }, () => Math.fround(rand() * 2 - 1)) } };
}

const infer = (inputs: Record<string, JsonTensor>): Promise<JsonReply> => postJson(`${stack.gateway}/v1/models/tiny-batch/infer`, { inputs });

// Waits (bounded) until the in-process backend reaches a state; the bound only guards against a hang.
async function until(what: string, ok: () => boolean): Promise<void> {
  await pollUntil(what, ok, (done) => done, { timeoutMs: 30_000, intervalMs: 5 });
}

// Reads a /metrics answer: it must parse as Prometheus text; a value is the sum of the series of a
// counter or gauge, or of a histogram's `_count` series, whose labels include `labels`. (The
// parser merges a histogram's label sets, so histogram counts are read from their `_count` lines.)
async function metricsOf(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  assert.equal(res.status, 200);
  const text = await res.text();
  const families = parsePrometheusTextFormat(text);
  return (name: string, labels: Record<string, string> = {}): number => {
    const family = families.find((f) => f.name === name);
    if (!family) return 0;
    const matches = (l: Record<string, string>) => Object.entries(labels).every(([k, v]) => l[k] === v);
    if (family.type !== 'HISTOGRAM') {
      return family.metrics.filter((m) => matches(m.labels ?? {})).reduce((sum, m) => sum + Number(m.value ?? 0), 0);
    }
    let count = 0;
    for (const line of text.split('\n')) {
      const m = new RegExp(`^${name}_count(?:\\{(.*)\\})? (\\S+)$`).exec(line);
      if (!m) continue;
      const l = Object.fromEntries([...(m[1] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]));
      if (matches(l)) count += Number(m[2]);
    }
    return count;
  };
}

async function deregister(b: InProcessBackend): Promise<void> {
  await b.drain();
  await b.stop();
  attached.splice(attached.indexOf(b), 1);
}

describe('backpressure, drain, batching and metrics on the real gateway', () => {
  it('answers 503 pool_saturated with Retry-After when every backend queue is full, and serves what was queued', async () => {
    let gated: GatedSessionPool | undefined;
    const b = await attach({
      scheduler: { maxQueue: 1, maxBatch: 1 },
      sessions: (cache) => {
        gated = new GatedSessionPool(cache);
        return gated;
      },
    });
    const first = infer(batchInput(1));
    await until('the first call to run', () => b.scheduler.inFlight() === 1 && b.scheduler.queueDepth() === 0);
    const second = infer(batchInput(2));
    await until('the second call to queue', () => b.scheduler.queueDepth() === 1);
    const refused = await infer(batchInput(3));
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 'pool_saturated');
    assert.equal(refused.headers.get('retry-after'), '1');
    gated!.open();
    for (const res of await Promise.all([first, second])) {
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal((await verifyReceipt(res.body.receipt, { outputs: res.body.outputs, trustedBackends: [b.account.address] })).valid, true);
    }
    assert.equal(b.served.length, 3, 'the refused call reached the backend and was turned away there, before any work');
    await deregister(b);
  });

  it('a draining backend finishes its work, gets none new, and leaves the pool', async () => {
    let gated: GatedSessionPool | undefined;
    const draining = await attach({
      sessions: (cache) => {
        gated = new GatedSessionPool(cache);
        return gated;
      },
    });
    const inFlight = infer(batchInput(10));
    await until('the call to run on the backend that will drain', () => draining.scheduler.inFlight() === 1);
    const other = await attach();
    // The drain as the backend runs it: stop taking work, tell the gateway, finish, leave.
    const drained = draining.scheduler.drain();
    await draining.client.beat();
    const servedBefore = draining.served.length;
    const later = await Promise.all([11, 12, 13].map((seed) => infer(batchInput(seed))));
    for (const res of later) {
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.receipt.backend, other.account.address);
    }
    assert.equal(draining.served.length, servedBefore, 'no new work reached the draining backend');
    gated!.open();
    const finished = await inFlight;
    assert.equal(finished.status, 200, JSON.stringify(finished.body));
    assert.equal(finished.body.receipt.backend, draining.account.address);
    assert.equal(
      (await verifyReceipt(finished.body.receipt, { outputs: finished.body.outputs, trustedBackends: [draining.account.address] })).valid,
      true,
    );
    await drained;
    await draining.client.depart();
    const listing = (await call(`${stack.gateway}/v1/backends`)).body.backends as { address: string; inPool: boolean; status: string }[];
    const gone = listing.find((l) => l.address === draining.account.address)!;
    assert.deepEqual([gone.inPool, gone.status], [false, 'disabled']);
    await draining.stop();
    attached.splice(attached.indexOf(draining), 1);
    await deregister(other);
  });

  it('gives each caller exactly its own outputs whether its call was batched or not, with receipts over its own tensors', async () => {
    const inputs = Array.from({ length: 8 }, (_, i) => batchInput(100 + i));
    let gated: GatedSessionPool | undefined;
    const batching = await attach({
      scheduler: { maxBatch: 8, maxQueueDelayUs: 60_000_000 },
      sessions: (cache) => {
        gated = new GatedSessionPool(cache);
        return gated;
      },
    });
    // Held until all eight are queued, so that they run as one batch.
    const pending = inputs.map((x) => infer(x));
    let batched: JsonReply[];
    try {
      await until('eight calls in the queue', () => batching.scheduler.inFlight() === 8);
      gated!.open();
      batched = await Promise.all(pending);
      const backendMetrics = await metricsOf(`${batching.url}/metrics`);
      assert.equal(backendMetrics('proofgate_backend_batch_size'), 1, 'one onnxruntime run for the eight calls');
    } finally {
      gated!.open();
      await deregister(batching);
    }

    const single = await attach({ scheduler: { maxBatch: 1 } });
    const unbatched: JsonReply[] = [];
    for (const x of inputs) unbatched.push(await infer(x));
    const session = await ort.InferenceSession.create(testModels()[2]!.bytes, { executionProviders: ['cpu'] });
    for (let i = 0; i < inputs.length; i++) {
      assert.equal(batched[i]!.status, 200, JSON.stringify(batched[i]!.body));
      assert.deepEqual(batched[i]!.body.outputs, unbatched[i]!.body.outputs, `caller ${i}`);
      const direct = await session.run({ x: new ort.Tensor('float32', Float32Array.from(inputs[i]!['x']!.data as number[]), [1, 32]) });
      assert.deepEqual(batched[i]!.body.outputs.y.data, Array.from(direct['y']!.data as Float32Array), `caller ${i} against onnxruntime`);
      const v = await verifyReceipt(batched[i]!.body.receipt, {
        inputs: inputs[i]!,
        outputs: batched[i]!.body.outputs,
        trustedBackends: [batching.account.address],
      });
      assert.deepEqual(v.reasons, [], `caller ${i}'s receipt`);
    }
    await session.release();
    await deregister(single);
  });

  it('serves /metrics as Prometheus text on the backend and the gateway, and both move with traffic', async () => {
    const b = await attach();
    const model = (await call(`${stack.gateway}/v1/models`)).body.models.find((m: { name: string }) => m.name === 'tiny-batch').sha256 as string;
    const admin = { authorization: `Bearer ${stack.adminToken}` };
    const backendBefore = await metricsOf(`${b.url}/metrics`);
    const gatewayBefore = await metricsOf(`${stack.gateway}/metrics`, admin);
    assert.equal(backendBefore('proofgate_backend_execution_provider_info', { provider: 'cpu' }), 1);
    for (let i = 0; i < 3; i++) assert.equal((await infer(batchInput(200 + i))).status, 200);
    assert.equal(
      (await postJson(`${stack.gateway}/v1/models/tiny-batch/infer`, { inputs: { x: { type: 'int32', dims: [1, 32], data: [] } } })).status,
      400,
    );
    const backendAfter = await metricsOf(`${b.url}/metrics`);
    const gatewayAfter = await metricsOf(`${stack.gateway}/metrics`, admin);
    assert.equal(
      backendAfter('proofgate_backend_requests_total', { model, status: '200' }) -
        backendBefore('proofgate_backend_requests_total', { model, status: '200' }),
      3,
    );
    assert.equal(
      backendAfter('proofgate_backend_request_seconds', { model, stage: 'run' }) -
        backendBefore('proofgate_backend_request_seconds', { model, stage: 'run' }),
      3,
    );
    const served = { model: 'tiny-batch', status: '200', encoding: 'json/json' };
    assert.equal(gatewayAfter('proofgate_gateway_requests_total', served) - gatewayBefore('proofgate_gateway_requests_total', served), 3);
    const refused = { model: 'tiny-batch', status: '400', encoding: 'json/json' };
    assert.equal(gatewayAfter('proofgate_gateway_requests_total', refused) - gatewayBefore('proofgate_gateway_requests_total', refused), 1);
    assert.equal((await fetch(`${stack.gateway}/metrics`)).status, 401, 'gateway metrics are for admins');
    await deregister(b);
  });
});
