import { readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { bytesToHex, type Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { BACKEND_PATHS } from '../core/backend-protocol';
import { backendAuthLabel, deriveNodeAuthKey, gatewayRequestHeaders, importNodeAuthKey } from '../core/node-protocol';
import { TENSORS_MEDIA_TYPE, encodeTensors, sha256Hex, tensorMapFromJson } from '../core/tensors';
import { buildOnnxModel } from '../gpu-backend/onnx-model-builder';
import { REPO_ROOT, demoModels, type DemoModel } from '../local-stack/demo-models';
import { launchLocalStack, type LocalStack } from '../local-stack/launch';
import { ProcessGroup } from '../local-stack/process-group';
import { waitForHttp } from '../local-stack/wait-for';
import { freePort } from '../chain/anvil';
import { testModels } from '../scripts/generate-test-models';
import { cpuMs, findProcess, processTree } from './process-cpu';
import { type BenchCase, TINY_ADD_CASE, benchImage } from './cases';
import { startHttpHop } from './http-hop';
import { percentile, timeRuns } from './stats';

// The data path against its baselines, all measured in this run on this machine: the same model
// bytes and inputs run (1) directly with onnxruntime-node's session.run in this process, (2) through
// a backend's own HTTP API (HMAC, queue, receipt signing), (3) through the gateway Worker (workerd via
// wrangler dev) with JSON bodies and (4) with binary bodies both ways; p50/p99 at concurrency 1,
// throughput at concurrency 16, CPU per call by process, and dynamic batching on and off. One more
// row per model is context, not a path: one localhost HTTP hop (Node to Node) carrying the same body
// and answer sizes with no work on them; the gateway path has three such hops (client → wrangler's
// proxy → workerd → backend), the backend path one.

const CASES: BenchCase[] = [
  TINY_ADD_CASE,
  {
    label: 'silero-vad',
    model: 'silero-vad',
    inputs: {
      input: { type: 'float32', dims: [1, 512], data: Array.from({ length: 512 }, (_, i) => Math.fround(Math.sin(i / 7) * 0.4)) },
      state: { type: 'float32', dims: [2, 1, 128], data: new Array(256).fill(0) },
      sr: { type: 'int64', dims: [], data: [16000] },
    },
  },
  { label: 'ppocr-det 32', model: 'ppocr-det', inputs: benchImage(32) },
  { label: 'ppocr-det 160', model: 'ppocr-det', inputs: benchImage(160) },
  { label: 'ppocr-det 640', model: 'ppocr-det', inputs: benchImage(640) },
];

/** A perceptron with a symbolic batch dimension, big enough that its weights dominate a call: the batching case. */
function batchModel(salt: string): Uint8Array {
  const w = (rows: number, cols: number, seed: number) =>
    Array.from({ length: rows * cols }, (_, i) => Math.fround(Math.sin((i + 1) * seed) / Math.sqrt(rows)));
  return buildOnnxModel({
    name: `bench-mlp-${salt}`,
    inputs: [{ name: 'x', type: 'float32', dims: ['batch', 256] }],
    outputs: [{ name: 'y', type: 'float32', dims: ['batch', 256] }],
    initializers: [
      { name: 'w1', dims: [256, 1024], values: w(256, 1024, 0.37) },
      { name: 'w2', dims: [1024, 1024], values: w(1024, 1024, 0.53) },
      { name: 'w3', dims: [1024, 256], values: w(1024, 256, 0.71) },
    ],
    nodes: [
      { op: 'MatMul', inputs: ['x', 'w1'], outputs: ['h1'] },
      { op: 'Relu', inputs: ['h1'], outputs: ['r1'] },
      { op: 'MatMul', inputs: ['r1', 'w2'], outputs: ['h2'] },
      { op: 'Relu', inputs: ['h2'], outputs: ['r2'] },
      { op: 'MatMul', inputs: ['r2', 'w3'], outputs: ['y'] },
    ],
  });
}

interface Row {
  model: string;
  path: string;
  p50: number | null;
  p99: number | null;
  rps16: number | null;
  cpuPerCall: Record<string, number> | null;
}

/** Concurrency `c` for `calls` calls in all: requests per second. */
async function throughput(fn: () => Promise<unknown>, calls: number, c = 16): Promise<number> {
  for (let i = 0; i < c; i++) await fn();
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: c }, async () => {
      while (next++ < calls) await fn();
    }),
  );
  return calls / ((performance.now() - started) / 1000);
}

async function expectOk(res: Response, what: string): Promise<void> {
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
  await res.arrayBuffer();
}

/** The execution provider the bench runs on: `PROOFGATE_BENCH_PROVIDER` (cpu by default; bench/cuda.ts sets cuda). */
function benchProvider(): 'cpu' | 'cuda' {
  return process.env['PROOFGATE_BENCH_PROVIDER'] === 'cuda' ? 'cuda' : 'cpu';
}

/** Runs the benchmark; prints one table and writes .proofgate/bench.json. */
export async function benchGatewayInference(iterations: number): Promise<void> {
  const provider = benchProvider();
  const log = (l: string) => process.stderr.write(`[bench] ${l}\n`);
  const stateDir = join(REPO_ROOT, '.proofgate', 'bench-state', String(Date.now()));
  await mkdir(stateDir, { recursive: true });
  const models: DemoModel[] = [...demoModels()];
  for (const m of [
    ...testModels().map((t) => ({ name: t.name, bytes: t.bytes })),
    { name: 'mlp-batched', bytes: batchModel('on') },
    { name: 'mlp-single', bytes: batchModel('off') },
  ]) {
    const file = join(stateDir, `${m.name}.onnx`);
    await writeFile(file, m.bytes);
    models.push({ name: m.name, file, price: '0' });
  }
  const stack: LocalStack = await launchLocalStack({ stateDir, backends: 0, payments: false, models, log });
  const group = new ProcessGroup();
  const hop = await startHttpHop();
  try {
    const secret = /GATEWAY_SECRET=(\S+)/.exec(await readFile(join(stateDir, 'secrets.env'), 'utf8'))![1]!;
    const sha = (name: string) => stack.models.find((m) => m.name === name)!.sha256;
    const general = ['tiny-add', 'silero-vad', 'ppocr-det'].map(sha).join(',');
    // Two general backends without batching (latency rows), and one backend per batching mode.
    const backends: { url: string; address: Hex; pid: number; authKey: CryptoKey }[] = [];
    const startBackend = async (name: string, flags: string[]) => {
      const key = generatePrivateKey();
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const proc = group.spawn(
        name,
        process.execPath,
        [
          '--import',
          'tsx',
          join(REPO_ROOT, 'gpu-backend', 'main.ts'),
          '--gateway',
          stack.gateway,
          '--port',
          String(port),
          '--provider',
          'cpu',
          '--cache-dir',
          join(stateDir, 'model-cache'),
          ...flags,
        ],
        {
          env: { ...process.env, PROOFGATE_OPERATOR_TOKEN: stack.operatorToken, PROOFGATE_BACKEND_KEY: key },
          logFile: join(stack.logsDir, `${name}.log`),
          cwd: REPO_ROOT,
        },
      );
      await waitForHttp(`${url}/healthz`, async (r) => r.ok && ((await r.json()) as { registered: boolean }).registered, {
        timeoutMs: 120_000,
        process: proc,
        what: name,
      });
      const address = privateKeyToAccount(key).address;
      const b = { url, address, pid: proc.child.pid!, authKey: await importNodeAuthKey(await deriveNodeAuthKey(secret, backendAuthLabel(address))) };
      backends.push(b);
      return b;
    };
    const b1 = await startBackend('backend-1', ['--models', general, '--max-batch', '1']);
    const b2 = await startBackend('backend-2', ['--models', general, '--max-batch', '1']);
    const batchOn = await startBackend('backend-batching', ['--models', sha('mlp-batched'), '--max-batch', '16', '--batch-delay-us', '2000']);
    const batchOff = await startBackend('backend-single', ['--models', sha('mlp-single'), '--max-batch', '1']);
    const gatewayPid = findProcess(['wrangler', 'dev', '--port', new URL(stack.gateway).port]);
    const gatewayPids = gatewayPid ? processTree(gatewayPid) : [];

    const floor = await timeRuns(async () => expectOk(await fetch(`${stack.gateway}/healthz`), 'healthz'), iterations);
    const rows: Row[] = [];
    const runBackend = async (b: (typeof backends)[number], model: string, body: Uint8Array, bodyHash: Hex) => {
      const requestId = bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
      const headers = await gatewayRequestHeaders(b.authKey, {
        method: 'POST',
        path: BACKEND_PATHS.run,
        requestId,
        subject: sha(model) as Hex,
        bodySha256: bodyHash,
        timestamp: Date.now(),
      });
      await expectOk(
        await fetch(`${b.url}${BACKEND_PATHS.run}`, { method: 'POST', headers: { 'content-type': TENSORS_MEDIA_TYPE, ...headers }, body }),
        `backend ${model}`,
      );
    };
    const cpuOf = async (fn: () => Promise<unknown>, calls: number) => {
      const groups: Record<string, number[]> = { bench: [process.pid], gateway: gatewayPids, backends: [b1.pid, b2.pid] };
      const before = Object.fromEntries(Object.entries(groups).map(([k, pids]) => [k, cpuMs(pids)]));
      const rps = await throughput(fn, calls);
      const per = Object.fromEntries(Object.entries(groups).map(([k, pids]) => [k, (cpuMs(pids) - before[k]!) / (calls + 16)]));
      return { rps, per };
    };

    for (const c of CASES) {
      log(`measuring ${c.label}`);
      const bytes = readFileSyncModel(c.model, models);
      const session = await ort.InferenceSession.create(bytes, { executionProviders: [provider], graphOptimizationLevel: 'all' });
      const tensors = tensorMapFromJson(c.inputs);
      const feeds = () =>
        Object.fromEntries(Object.entries(tensors).map(([n, t]) => [n, new ort.Tensor(t.type, typedView(t.type, t.data) as never, [...t.dims])]));
      const n = c.label === 'ppocr-det 640' ? Math.min(iterations, 40) : iterations;
      const direct = await timeRuns(() => session.run(feeds()), n, 5);
      await session.release();
      const binary = encodeTensors(tensors);
      const binaryHash = await sha256Hex(binary);
      const json = JSON.stringify({ inputs: c.inputs });
      const viaBackend = await timeRuns(() => runBackend(b1, c.model, binary, binaryHash), n, 5);
      const url = `${stack.gateway}/v1/models/${c.model}/infer`;
      const gwJson = () =>
        fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: json }).then((r) =>
          expectOk(r, `gateway json ${c.label}`),
        );
      const gwBinary = () =>
        fetch(url, { method: 'POST', headers: { 'content-type': TENSORS_MEDIA_TYPE, accept: TENSORS_MEDIA_TYPE }, body: binary }).then((r) =>
          expectOk(r, `gateway binary ${c.label}`),
        );
      const jsonTimes = await timeRuns(gwJson, c.label === 'ppocr-det 640' ? Math.min(n, 20) : n, 3);
      const binaryTimes = await timeRuns(gwBinary, n, 5);
      const replyBytes = (
        await (
          await fetch(url, { method: 'POST', headers: { 'content-type': TENSORS_MEDIA_TYPE, accept: TENSORS_MEDIA_TYPE }, body: binary })
        ).arrayBuffer()
      ).byteLength;
      const hopTimes = await timeRuns(
        async () => expectOk(await fetch(hop.url, { method: 'POST', headers: { 'reply-bytes': String(replyBytes) }, body: binary }), 'http hop'),
        n,
        5,
      );
      const big = c.label.startsWith('ppocr-det 640') || c.label.startsWith('ppocr-det 160');
      const calls = big ? 32 : Math.max(64, iterations);
      let backendRps: number | null = null;
      let gatewayRps: { rps: number; per: Record<string, number> } | null = null;
      if (!big) {
        let turn = 0;
        backendRps = await throughput(() => runBackend(turn++ % 2 ? b1 : b2, c.model, binary, binaryHash), calls);
        gatewayRps = await cpuOf(gwBinary, calls);
      }
      const stats = (t: number[]) => ({ p50: percentile(t, 50), p99: percentile(t, 99) });
      rows.push(
        { model: c.label, path: 'direct session.run', ...stats(direct), rps16: null, cpuPerCall: null },
        { model: c.label, path: 'one HTTP hop, same bytes (context)', ...stats(hopTimes), rps16: null, cpuPerCall: null },
        { model: c.label, path: 'backend HTTP API', ...stats(viaBackend), rps16: backendRps, cpuPerCall: null },
        { model: c.label, path: 'gateway JSON', ...stats(jsonTimes), rps16: null, cpuPerCall: null },
        { model: c.label, path: 'gateway binary', ...stats(binaryTimes), rps16: gatewayRps?.rps ?? null, cpuPerCall: gatewayRps?.per ?? null },
      );
    }

    log('measuring dynamic batching');
    const mlpInput = encodeTensors(
      tensorMapFromJson({ x: { type: 'float32', dims: [1, 256], data: Array.from({ length: 256 }, (_, i) => Math.fround(Math.cos(i))) } }),
    );
    const mlpHash = await sha256Hex(mlpInput);
    for (const [label, model, backend] of [
      ['mlp batching off', 'mlp-single', batchOff],
      ['mlp batching on', 'mlp-batched', batchOn],
    ] as const) {
      const viaBackend = await throughput(() => runBackend(backend, model, mlpInput, mlpHash), 256);
      const viaGateway = await throughput(
        () =>
          fetch(`${stack.gateway}/v1/models/${model}/infer`, {
            method: 'POST',
            headers: { 'content-type': TENSORS_MEDIA_TYPE, accept: TENSORS_MEDIA_TYPE },
            body: mlpInput,
          }).then((r) => expectOk(r, label)),
        256,
      );
      rows.push({ model: label, path: 'backend HTTP API', p50: null, p99: null, rps16: viaBackend, cpuPerCall: null });
      rows.push({ model: label, path: 'gateway binary', p50: null, p99: null, rps16: viaGateway, cpuPerCall: null });
    }

    const find = (model: string, path: string) => rows.find((r) => r.model === model && r.path === path)!;
    const f50 = percentile(floor, 50);
    const goals = {
      ppocr640BinaryOverDirect: find('ppocr-det 640', 'gateway binary').p50! / find('ppocr-det 640', 'direct session.run').p50!,
      ppocr640JsonOverDirect: find('ppocr-det 640', 'gateway JSON').p50! / find('ppocr-det 640', 'direct session.run').p50!,
      smallCallMarginMs: find('tiny-add', 'gateway binary').p50! - (f50 + find('tiny-add', 'direct session.run').p50!),
      smallCallJsonMarginMs: find('tiny-add', 'gateway JSON').p50! - (f50 + find('tiny-add', 'direct session.run').p50!),
      throughput16GatewayOverBackends: find('ppocr-det 32', 'gateway binary').rps16! / find('ppocr-det 32', 'backend HTTP API').rps16!,
      throughput16TinyGatewayOverBackends: find('tiny-add', 'gateway binary').rps16! / find('tiny-add', 'backend HTTP API').rps16!,
      batchingGainBackend: find('mlp batching on', 'backend HTTP API').rps16! / find('mlp batching off', 'backend HTTP API').rps16!,
      batchingGainGateway: find('mlp batching on', 'gateway binary').rps16! / find('mlp batching off', 'gateway binary').rps16!,
    };
    const providers = await Promise.all(
      backends.map(async (b) => ((await (await fetch(`${b.url}/healthz`)).json()) as { executionProvider: string }).executionProvider),
    );
    process.stdout.write(`\nexecution provider: direct session.run ${provider}; backends ${[...new Set(providers)].join(', ')}\n`);
    printTable(rows, f50, percentile(floor, 99), goals);
    await mkdir(join(REPO_ROOT, '.proofgate'), { recursive: true });
    await writeFile(
      join(REPO_ROOT, '.proofgate', 'bench.json'),
      JSON.stringify({ at: new Date().toISOString(), provider, iterations, floorMs: { p50: f50, p99: percentile(floor, 99) }, rows, goals }, null, 2),
    );
  } finally {
    await hop.close();
    await group.stopAll();
    await stack.stop();
    await rm(stateDir, { recursive: true, force: true });
  }
}

function readFileSyncModel(name: string, models: DemoModel[]): Uint8Array {
  return new Uint8Array(readFileSync(models.find((m) => m.name === name)!.file));
}

function typedView(type: string, data: Uint8Array): ArrayBufferView {
  const copy = data.slice();
  switch (type) {
    case 'int64':
      return new BigInt64Array(copy.buffer);
    case 'float32':
      return new Float32Array(copy.buffer);
    default:
      return copy;
  }
}

function printTable(rows: Row[], floor50: number, floor99: number, goals: Record<string, number>): void {
  const f = (v: number | null, d = 2) => (v === null ? '' : v.toFixed(d));
  const out: string[] = [];
  out.push(`\ngateway floor: GET /healthz through wrangler dev p50 ${floor50.toFixed(2)} ms, p99 ${floor99.toFixed(2)} ms`);
  out.push(`| model | path | p50 ms (c=1) | p99 ms (c=1) | req/s (c=16) | CPU ms/call: bench / gateway / backends |`);
  out.push('| --- | --- | ---: | ---: | ---: | --- |');
  for (const r of rows) {
    const cpu = r.cpuPerCall ? `${f(r.cpuPerCall['bench']!)} / ${f(r.cpuPerCall['gateway']!)} / ${f(r.cpuPerCall['backends']!)}` : '';
    out.push(`| ${r.model} | ${r.path} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.rps16, 0)} | ${cpu} |`);
  }
  out.push('\ngoals (ratios from this run):');
  out.push(`  ppocr-det 640 binary p50 / direct p50  = ${goals['ppocr640BinaryOverDirect']!.toFixed(2)}x (goal <= 1.15x)`);
  out.push(`  ppocr-det 640 JSON p50 / direct p50    = ${goals['ppocr640JsonOverDirect']!.toFixed(2)}x (goal <= 1.5x)`);
  out.push(
    `  tiny-add binary p50 - (floor + direct) = ${goals['smallCallMarginMs']!.toFixed(2)} ms (goal <= 3 ms; JSON: ${goals['smallCallJsonMarginMs']!.toFixed(2)} ms)`,
  );
  out.push(
    `  c=16 gateway / backends direct         = ${goals['throughput16GatewayOverBackends']!.toFixed(2)}x on ppocr-det 32, ${goals['throughput16TinyGatewayOverBackends']!.toFixed(2)}x on tiny-add (goal >= 0.8x)`,
  );
  out.push(
    `  batching on / off at c=16             = ${goals['batchingGainBackend']!.toFixed(2)}x at the backend, ${goals['batchingGainGateway']!.toFixed(2)}x through the gateway (goal >= 2x)`,
  );
  process.stdout.write(`${out.join('\n')}\n`);
}
