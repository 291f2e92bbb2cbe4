import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { InvalidModelError, readModelSignature } from '../../../core/onnx';
import { buildOnnxModel } from '../../../gpu-backend/onnx-model-builder';
import { demoModels } from '../../../local-stack/demo-models';
import { testModels } from '../../../scripts/generate-test-models';
import { ProtobufStreamReader } from '../../../workers/hub/protobuf-stream-reader';
import { readStreamedModelSignature } from '../../../workers/hub/streamed-model-signature';
import { seededRandom } from '../../support/seeded-random';

// The streamed reader must give exactly what core/onnx gives for the same bytes held in memory:
// the same signature, or the same refusal, however the bytes are cut into chunks.

function chunked(bytes: Uint8Array, size: number): ProtobufStreamReader {
  let o = 0;
  return new ProtobufStreamReader(async () => {
    if (o >= bytes.length) return null;
    const chunk = bytes.subarray(o, o + size);
    o += size;
    return chunk;
  });
}

async function outcome(read: () => unknown): Promise<unknown> {
  try {
    return { signature: await read() };
  } catch (err) {
    assert.ok(err instanceof InvalidModelError, `expected InvalidModelError, got ${String(err)}`);
    return { error: err.message };
  }
}

async function assertSameAsInMemory(bytes: Uint8Array, chunkSizes: number[]): Promise<unknown> {
  const expected = await outcome(() => readModelSignature(bytes));
  for (const size of chunkSizes) {
    assert.deepEqual(await outcome(() => readStreamedModelSignature(chunked(bytes, size))), expected, `chunks of ${size} bytes`);
  }
  return expected;
}

describe('readStreamedModelSignature', () => {
  it('reads the demo models as core/onnx does, whatever the chunking', async () => {
    for (const model of demoModels()) {
      const bytes = new Uint8Array(await readFile(model.file));
      const result = (await assertSameAsInMemory(bytes, [13, 4096, 65_536, bytes.length])) as { signature?: unknown };
      assert.ok(result.signature, `${model.name} has a signature`);
    }
  });

  it('reads the test models byte by byte', async () => {
    for (const model of testModels()) await assertSameAsInMemory(model.bytes, [1, 2, 3, 1000]);
  });

  it('excludes initializers from the inputs, as core/onnx does', async () => {
    const bytes = buildOnnxModel({
      name: 'with-weights',
      inputs: [
        { name: 'x', type: 'float32', dims: [1, 2] },
        { name: 'w', type: 'float32', dims: [1, 2] },
      ],
      outputs: [{ name: 'y', type: 'float32', dims: [1, 2] }],
      nodes: [{ op: 'Add', inputs: ['x', 'w'], outputs: ['y'] }],
      initializers: [{ name: 'w', dims: [1, 2], values: [1, 2] }],
    });
    const { signature } = (await assertSameAsInMemory(bytes, [1, 5, 64])) as { signature: { inputs: { name: string }[] } };
    assert.deepEqual(
      signature.inputs.map((i) => i.name),
      ['x'],
    );
  });

  it('refuses what core/onnx refuses, with the same message', async () => {
    const [tinyAdd] = testModels();
    const random = seededRandom(7);
    const noise = Uint8Array.from({ length: 4096 }, () => Math.floor(random() * 256));
    const stringInput = buildOnnxModel({
      name: 'strings',
      inputs: [{ name: 'x', type: 'float32', dims: [1] }],
      outputs: [{ name: 'y', type: 'float32', dims: [1] }],
      nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
    });
    // The output's elem_type (field 1 = float32, then its shape, field 2) patched to 8 (string):
    // the builder cannot write a string tensor.
    const hex = Buffer.from(stringInput).toString('hex');
    const typeAt = hex.lastIndexOf('08011204') / 2 + 1;
    const patched = stringInput.slice();
    patched[typeAt] = 8;
    const noOutputs = buildOnnxModel({ name: 'none', inputs: [{ name: 'x', type: 'float32', dims: [1] }], outputs: [], nodes: [] });
    for (const bytes of [new Uint8Array(0), noise, tinyAdd!.bytes.subarray(0, tinyAdd!.bytes.length - 9), patched, noOutputs]) {
      const result = (await assertSameAsInMemory(bytes, [1, 7, 4096])) as { error?: string };
      assert.ok(result.error, 'refused');
    }
  });
});
