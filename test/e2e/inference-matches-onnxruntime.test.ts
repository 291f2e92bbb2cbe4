import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import type { Address } from 'viem';
import { verifyReceipt, type InferenceReceipt } from '../../core/receipts';
import {
  TENSORS_MEDIA_TYPE,
  decodeTensors,
  encodeTensors,
  tensorFromJson,
  tensorMapFromJson,
  tensorMapToJson,
  type JsonTensor,
} from '../../core/tensors';
import { REPLY_HEADERS, readReplyHeader } from '../../workers/inference/reply-format';
import { demoModels } from '../../local-stack/demo-models';
import type { LocalStackFile } from '../../local-stack/stack-file';
import { postJson, call } from '../support/gateway-client';
import { seededRandom } from '../support/seeded-random';
import { sharedStack } from '../support/test-stack';

// The gateway's outputs must be exactly what onnxruntime-node computes on the same model bytes and
// inputs: compared element by element, bit for bit.

let stack: LocalStackFile;
before(async () => {
  stack = await sharedStack();
});

async function directRun(model: string, inputs: Record<string, JsonTensor>): Promise<Record<string, ort.Tensor>> {
  const file = demoModels().find((m) => m.name === model)!.file;
  const session = await ort.InferenceSession.create(new Uint8Array(readFileSync(file)), {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
  });
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(inputs)) {
    feeds[name] =
      t.type === 'int64'
        ? new ort.Tensor('int64', BigInt64Array.from(t.data.map((v) => BigInt(v as number))), t.dims)
        : new ort.Tensor('float32', Float32Array.from(t.data as number[]), t.dims);
  }
  const out = await session.run(feeds);
  await session.release();
  return out;
}

function assertSameFloats(name: string, gateway: JsonTensor, direct: ort.Tensor): void {
  assert.deepEqual(gateway.dims, direct.dims.map(Number), `${name} dims`);
  const expected = new Uint32Array((direct.data as Float32Array).buffer.slice(0));
  const actual = new Uint32Array(tensorFromJson(name, gateway).data.buffer);
  assert.equal(actual.length, expected.length, `${name} length`);
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) assert.fail(`${name}[${i}]: gateway ${gateway.data[i]} != direct ${(direct.data as Float32Array)[i]}`);
  }
}

describe('inference through the gateway equals a direct onnxruntime-node run', () => {
  it('silero-vad, three chained 512-sample frames of noisy audio', async () => {
    const rand = seededRandom(7);
    let state: JsonTensor = { type: 'float32', dims: [2, 1, 128], data: new Array(256).fill(0) };
    for (let frame = 0; frame < 3; frame++) {
      const audio = Array.from({ length: 512 }, (_, i) => Math.fround(0.3 * Math.sin((i + frame * 512) / 9) + 0.05 * (rand() - 0.5)));
      const inputs: Record<string, JsonTensor> = {
        input: { type: 'float32', dims: [1, 512], data: audio },
        state,
        sr: { type: 'int64', dims: [], data: [16000] },
      };
      const res = await postJson(`${stack.gateway}/v1/models/silero-vad/infer`, { inputs });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const direct = await directRun('silero-vad', inputs);
      assertSameFloats('output', res.body.outputs.output, direct['output']!);
      assertSameFloats('stateN', res.body.outputs.stateN, direct['stateN']!);
      const verdict = await verifyReceipt(res.body.receipt, {
        inputs,
        outputs: res.body.outputs,
        trustedBackends: stack.backends.map((b) => b.address as Address),
      });
      assert.deepEqual(verdict.reasons, []);
      state = res.body.outputs.stateN;
    }
  });

  it('ppocr-det on a 3x64x96 image', async () => {
    const rand = seededRandom(42);
    const inputs: Record<string, JsonTensor> = {
      x: { type: 'float32', dims: [1, 3, 64, 96], data: Array.from({ length: 3 * 64 * 96 }, () => Math.fround(rand() * 2 - 1)) },
    };
    const res = await postJson(`${stack.gateway}/v1/models/ppocr-det/infer`, { inputs });
    assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 500));
    const direct = await directRun('ppocr-det', inputs);
    assertSameFloats('sigmoid_0.tmp_0', res.body.outputs['sigmoid_0.tmp_0'], direct['sigmoid_0.tmp_0']!);
    assert.equal((await verifyReceipt(res.body.receipt, { inputs, outputs: res.body.outputs })).valid, true);
  });

  it('every tensor type survives the trip through the gateway, the backend and onnxruntime unchanged', async () => {
    const inputs: Record<string, JsonTensor> = {
      x_float32: { type: 'float32', dims: [6], data: [1.5, 'NaN', '-Infinity', '-0', '-NaN', 'NaN:0x7fa00001'] },
      x_float16: { type: 'float16', dims: [4], data: [0.0999755859375, 65504, 'Infinity', '-0'] },
      x_int8: { type: 'int8', dims: [2], data: [-128, 127] },
      x_uint8: { type: 'uint8', dims: [2], data: [0, 255] },
      x_int16: { type: 'int16', dims: [2], data: [-32768, 32767] },
      x_uint16: { type: 'uint16', dims: [1], data: [65535] },
      x_int32: { type: 'int32', dims: [2], data: [-2147483648, 2147483647] },
      x_uint32: { type: 'uint32', dims: [1], data: [4294967295] },
      x_int64: { type: 'int64', dims: [3], data: ['-9223372036854775808', '9223372036854775807', 5] },
      x_uint64: { type: 'uint64', dims: [2], data: ['18446744073709551615', 0] },
      x_bool: { type: 'bool', dims: [3], data: [true, false, true] },
    };
    const res = await postJson(`${stack.gateway}/v1/models/tiny-types/infer`, { inputs });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    for (const [name, t] of Object.entries(inputs)) assert.deepEqual(res.body.outputs[name.replace('x_', 'y_')], t, name);
    assert.equal(res.body.receipt.executionProvider, 'cpu');
  });
});

describe('binary transport (application/vnd.proofgate.tensors)', () => {
  const inputs: Record<string, JsonTensor> = {
    x_float32: { type: 'float32', dims: [6], data: [1.5, 'NaN', '-Infinity', '-0', '-NaN', 'NaN:0x7fa00001'] },
    x_float16: { type: 'float16', dims: [4], data: [0.0999755859375, 65504, 'Infinity', '-0'] },
    x_int8: { type: 'int8', dims: [2], data: [-128, 127] },
    x_uint8: { type: 'uint8', dims: [2], data: [0, 255] },
    x_int16: { type: 'int16', dims: [2], data: [-32768, 32767] },
    x_uint16: { type: 'uint16', dims: [1], data: [65535] },
    x_int32: { type: 'int32', dims: [2], data: [-2147483648, 2147483647] },
    x_uint32: { type: 'uint32', dims: [1], data: [4294967295] },
    x_int64: { type: 'int64', dims: [3], data: ['-9223372036854775808', '9223372036854775807', 5] },
    x_uint64: { type: 'uint64', dims: [2], data: ['18446744073709551615', 0] },
    x_bool: { type: 'bool', dims: [3], data: [true, false, true] },
  };
  const binaryInputs = () => encodeTensors(tensorMapFromJson(inputs));
  const url = () => `${stack.gateway}/v1/models/tiny-types/infer`;

  it('round-trips every tensor type in and out, and the receipt verifies over exactly the bytes sent and received', async () => {
    const sent = binaryInputs();
    const res = await fetch(url(), { method: 'POST', headers: { 'content-type': TENSORS_MEDIA_TYPE, accept: TENSORS_MEDIA_TYPE }, body: sent });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), TENSORS_MEDIA_TYPE);
    const received = new Uint8Array(await res.arrayBuffer());
    const outputs = decodeTensors(received);
    const echoed = decodeTensors(sent);
    for (const name of Object.keys(inputs)) {
      const out = outputs[name.replace('x_', 'y_')]!;
      assert.equal(out.type, echoed[name]!.type, name);
      assert.deepEqual([...out.dims], [...echoed[name]!.dims], name);
      assert.deepEqual(Buffer.from(out.data), Buffer.from(echoed[name]!.data), name);
    }
    const receipt = readReplyHeader<InferenceReceipt>(res.headers.get(REPLY_HEADERS.receipt))!;
    const model = readReplyHeader<{ name: string; version: number }>(res.headers.get(REPLY_HEADERS.model))!;
    assert.equal(model.name, 'tiny-types');
    const trustedBackends = stack.backends.map((b) => b.address as Address);
    assert.deepEqual((await verifyReceipt(receipt, { inputs: sent, outputs: received, trustedBackends })).reasons, []);
    // The same receipt verifies over the JSON form of the same tensors, and fails on one changed byte.
    assert.deepEqual((await verifyReceipt(receipt, { inputs, outputs: tensorMapToJson(outputs) })).reasons, []);
    const bent = received.slice();
    bent[bent.length - 1]! ^= 1;
    assert.deepEqual((await verifyReceipt(receipt, { outputs: bent })).reasons, ['output_hash_mismatch']);
    const stored = await call(`${stack.gateway}/v1/receipts/${receipt.requestId}`);
    assert.deepEqual(stored.body, receipt);
  });

  it('mixes the encodings: binary in with a JSON answer, JSON in with a binary answer, with the same hashes', async () => {
    const jsonOut = await call(url(), { method: 'POST', headers: { 'content-type': TENSORS_MEDIA_TYPE }, body: binaryInputs() });
    assert.equal(jsonOut.status, 200);
    for (const [name, t] of Object.entries(inputs)) assert.deepEqual(jsonOut.body.outputs[name.replace('x_', 'y_')], t, name);
    const binOut = await fetch(url(), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: TENSORS_MEDIA_TYPE },
      body: JSON.stringify({ inputs }),
    });
    assert.equal(binOut.status, 200);
    const receipt = readReplyHeader<InferenceReceipt>(binOut.headers.get(REPLY_HEADERS.receipt))!;
    assert.equal(receipt.inputHash, jsonOut.body.receipt.inputHash);
    assert.equal(receipt.outputHash, jsonOut.body.receipt.outputHash);
    assert.deepEqual((await verifyReceipt(receipt, { inputs, outputs: new Uint8Array(await binOut.arrayBuffer()) })).reasons, []);
  });
});

describe('receipts', () => {
  it('are stored, served at /v1/receipts/{id}, verify offline, and fail on any changed input or output', async () => {
    const inputs = { a: { type: 'float32', dims: [1, 4], data: [1, 2, 3, 4] }, b: { type: 'float32', dims: [1, 4], data: [0.5, 0.25, -1, 10] } };
    const res = await postJson(`${stack.gateway}/v1/models/tiny-add/infer`, { inputs });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.outputs.sum.data, [1.5, 2.25, 2, 14]);
    assert.deepEqual(res.body.outputs.product.data, [0.5, 0.5, -3, 40]);
    const { receipt } = res.body;
    const stored = await call(`${stack.gateway}/v1/receipts/${receipt.requestId}`);
    assert.equal(stored.status, 200);
    assert.deepEqual(stored.body, receipt);
    const trusted = stack.backends.map((b) => b.address as Address);
    assert.equal((await verifyReceipt(stored.body, { inputs, outputs: res.body.outputs, trustedBackends: trusted })).valid, true);
    const changedInput = structuredClone(inputs);
    changedInput.b.data[3] = 10.000001;
    assert.deepEqual((await verifyReceipt(receipt, { inputs: changedInput })).reasons, ['input_hash_mismatch']);
    const changedOutput = structuredClone(res.body.outputs);
    changedOutput.sum.data[0] = 1.5000001;
    assert.deepEqual((await verifyReceipt(receipt, { outputs: changedOutput })).reasons, ['output_hash_mismatch']);
    assert.equal((await call(`${stack.gateway}/v1/receipts/0x${'00'.repeat(32)}`)).body.error.code, 'receipt_not_found');
    assert.equal((await call(`${stack.gateway}/v1/receipts/nope`)).status, 400);
  });

  it('come from both backends when calls overlap (least outstanding first)', async () => {
    const inputs = { a: { type: 'float32', dims: [1, 4], data: [1, 1, 1, 1] }, b: { type: 'float32', dims: [1, 4], data: [2, 2, 2, 2] } };
    const replies = await Promise.all(Array.from({ length: 8 }, () => postJson(`${stack.gateway}/v1/models/tiny-add/infer`, { inputs })));
    for (const r of replies) assert.equal(r.status, 200);
    const signers = new Set(replies.map((r) => r.body.receipt.backend));
    assert.deepEqual([...signers].sort(), stack.backends.map((b) => b.address).sort());
  });
});
