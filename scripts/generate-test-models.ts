import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { TENSOR_TYPES } from '../core/tensors';
import { buildOnnxModel } from '../gpu-backend/onnx-model-builder';

/** A generated test model: its hub name and ONNX bytes. */
export interface GeneratedModel {
  name: string;
  bytes: Uint8Array;
}

/**
 * The tiny models the tests publish: `tiny-add` (two float32 [1,4] inputs, their sum and product) and
 * `tiny-types` (an Identity per element type, to carry every tensor type through onnxruntime), and
 * `tiny-batch` (a two-layer perceptron with a symbolic batch dimension, for dynamic batching).
 * `salt` changes the graph name, and so the bytes and the hash, without changing behaviour.
 */
export function testModels(salt = ''): GeneratedModel[] {
  const add = buildOnnxModel({
    name: `tiny-add${salt}`,
    inputs: [
      { name: 'a', type: 'float32', dims: [1, 4] },
      { name: 'b', type: 'float32', dims: [1, 4] },
    ],
    outputs: [
      { name: 'sum', type: 'float32', dims: [1, 4] },
      { name: 'product', type: 'float32', dims: [1, 4] },
    ],
    nodes: [
      { op: 'Add', inputs: ['a', 'b'], outputs: ['sum'] },
      { op: 'Mul', inputs: ['a', 'b'], outputs: ['product'] },
    ],
  });
  const types = buildOnnxModel({
    name: `tiny-types${salt}`,
    inputs: TENSOR_TYPES.map((t) => ({ name: `x_${t}`, type: t, dims: ['n'] })),
    outputs: TENSOR_TYPES.map((t) => ({ name: `y_${t}`, type: t, dims: ['n'] })),
    nodes: TENSOR_TYPES.map((t) => ({ op: 'Identity', inputs: [`x_${t}`], outputs: [`y_${t}`] })),
  });
  // A small two-layer perceptron whose batch dimension is symbolic: the backend may stack calls to it.
  const weights = (rows: number, cols: number, seed: number): number[] =>
    Array.from({ length: rows * cols }, (_, i) => Math.fround(Math.sin((i + 1) * seed) / Math.sqrt(rows)));
  const batch = buildOnnxModel({
    name: `tiny-batch${salt}`,
    inputs: [{ name: 'x', type: 'float32', dims: ['batch', 32] }],
    outputs: [{ name: 'y', type: 'float32', dims: ['batch', 8] }],
    initializers: [
      { name: 'w1', dims: [32, 32], values: weights(32, 32, 0.37) },
      { name: 'w2', dims: [32, 8], values: weights(32, 8, 0.71) },
    ],
    nodes: [
      { op: 'MatMul', inputs: ['x', 'w1'], outputs: ['h'] },
      { op: 'Relu', inputs: ['h'], outputs: ['r'] },
      { op: 'MatMul', inputs: ['r', 'w2'], outputs: ['y'] },
    ],
  });
  return [
    { name: 'tiny-add', bytes: add },
    { name: 'tiny-types', bytes: types },
    { name: 'tiny-batch', bytes: batch },
  ];
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string', default: '.proofgate/test-models' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write('Usage: npm run models:generate -- [--out DIR]\nWrites the tiny test models (tiny-add.onnx, tiny-types.onnx) to DIR.\n');
    return;
  }
  await mkdir(values.out!, { recursive: true });
  for (const m of testModels()) {
    const file = join(values.out!, `${m.name}.onnx`);
    await writeFile(file, m.bytes);
    process.stdout.write(`wrote ${file} (${m.bytes.byteLength} bytes)\n`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
