import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { demoModels } from '../local-stack/demo-models';
import { testModels } from '../scripts/generate-test-models';
import { launchTestStack } from '../test/support/test-stack';
import { percentile, timeRuns } from './stats';

// Gateway inference against its baseline, measured in the same run: the same model bytes and inputs
// through the whole path (Worker in workerd: validation, hashing, pool Durable Object, HMAC, backend
// process with onnxruntime-node, EIP-712 signing and recovery, D1 write) versus a direct
// onnxruntime-node session.run in this process.

interface Case {
  model: string;
  bytes: Uint8Array;
  json: Record<string, { type: string; dims: number[]; data: (number | string)[] }>;
  feeds: () => Record<string, ort.Tensor>;
}

function cases(): Case[] {
  const silero = readFileSync(demoModels().find((m) => m.name === 'silero-vad')!.file);
  const audio = Array.from({ length: 512 }, (_, i) => Math.fround(Math.sin(i / 7) * 0.4));
  const ocr = readFileSync(demoModels().find((m) => m.name === 'ppocr-det')!.file);
  const image = Array.from({ length: 3 * 64 * 64 }, (_, i) => Math.fround(((i * 7919) % 255) / 255 - 0.5));
  return [
    {
      model: 'tiny-add',
      bytes: testModels()[0]!.bytes,
      json: { a: { type: 'float32', dims: [1, 4], data: [1, 2, 3, 4] }, b: { type: 'float32', dims: [1, 4], data: [4, 3, 2, 1] } },
      feeds: () => ({
        a: new ort.Tensor('float32', Float32Array.from([1, 2, 3, 4]), [1, 4]),
        b: new ort.Tensor('float32', Float32Array.from([4, 3, 2, 1]), [1, 4]),
      }),
    },
    {
      model: 'silero-vad',
      bytes: new Uint8Array(silero),
      json: {
        input: { type: 'float32', dims: [1, 512], data: audio },
        state: { type: 'float32', dims: [2, 1, 128], data: new Array(256).fill(0) },
        sr: { type: 'int64', dims: [], data: [16000] },
      },
      feeds: () => ({
        input: new ort.Tensor('float32', Float32Array.from(audio), [1, 512]),
        state: new ort.Tensor('float32', new Float32Array(256), [2, 1, 128]),
        sr: new ort.Tensor('int64', BigInt64Array.from([16000n]), []),
      }),
    },
    {
      model: 'ppocr-det',
      bytes: new Uint8Array(ocr),
      json: { x: { type: 'float32', dims: [1, 3, 64, 64], data: image } },
      feeds: () => ({ x: new ort.Tensor('float32', Float32Array.from(image), [1, 3, 64, 64]) }),
    },
  ];
}

/** Runs the benchmark and prints one line per model: p50/p99 of both paths and their ratio. */
export async function benchGatewayInference(iterations: number): Promise<void> {
  const stack = await launchTestStack({ backends: 1, log: (l) => process.stderr.write(`[bench] ${l}\n`) });
  try {
    // The floor of any gateway call in local dev: wrangler's proxy, workerd and one D1 query.
    const floor = await timeRuns(async () => {
      await (await fetch(`${stack.gateway}/healthz`)).arrayBuffer();
    }, iterations);
    process.stdout.write(
      `\ngateway floor (GET /healthz through wrangler dev, one D1 read): p50 ${ms(percentile(floor, 50)).trim()}, p99 ${ms(percentile(floor, 99)).trim()}\n`,
    );
    process.stdout.write(`\ngateway inference vs direct onnxruntime-node (${iterations} sequential calls each, 1 CPU backend)\n`);
    process.stdout.write('model        direct p50   direct p99   gateway p50  gateway p99  overhead p50  ratio p50\n');
    for (const c of cases()) {
      const session = await ort.InferenceSession.create(c.bytes, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
      const direct = await timeRuns(() => session.run(c.feeds()), iterations);
      await session.release();
      const body = JSON.stringify({ inputs: c.json });
      const gateway = await timeRuns(async () => {
        const res = await fetch(`${stack.gateway}/v1/models/${c.model}/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        if (!res.ok) throw new Error(`${c.model}: HTTP ${res.status} ${await res.text()}`);
        await res.arrayBuffer();
      }, iterations);
      const [d50, d99, g50, g99] = [percentile(direct, 50), percentile(direct, 99), percentile(gateway, 50), percentile(gateway, 99)];
      process.stdout.write(
        `${c.model.padEnd(12)} ${ms(d50)} ${ms(d99)} ${ms(g50)} ${ms(g99)} ${ms(g50 - d50)}  ${(g50 / d50).toFixed(1).padStart(8)}x\n`,
      );
    }
  } finally {
    await stack.stop();
  }
}

function ms(v: number): string {
  return `${v.toFixed(3)} ms`.padStart(12);
}
