import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { TENSORS_MEDIA_TYPE, encodeTensors, tensorFromJson } from '../../core/tensors';
import type { LocalStackFile } from '../../local-stack/stack-file';
import { call, postJson } from '../support/gateway-client';
import { sharedStack } from '../support/test-stack';

let stack: LocalStackFile;
before(async () => {
  stack = await sharedStack();
});

const good = {
  a: { type: 'float32', dims: [1, 4], data: [1, 2, 3, 4] },
  b: { type: 'float32', dims: [1, 4], data: [1, 1, 1, 1] },
};

async function expectError(res: Promise<{ status: number; body: any }>, status: number, code: string): Promise<void> {
  const r = await res;
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body.error.code, code);
  assert.equal(typeof r.body.error.message, 'string');
}

describe('bad inference requests get a clear 4xx and change nothing', () => {
  it('answers each kind of bad input with its code', async () => {
    const infer = `${stack.gateway}/v1/models/tiny-add/infer`;
    const receiptsBefore = await backendsSnapshot();
    await expectError(postJson(`${stack.gateway}/v1/models/no-such-model/infer`, { inputs: good }), 404, 'model_not_found');
    await expectError(postJson(`${infer}?version=99`, { inputs: good }), 404, 'model_not_found');
    await expectError(postJson(`${infer}?version=abc`, { inputs: good }), 400, 'invalid_version');
    await expectError(call(infer, { method: 'POST', body: '{"inputs": {' }), 400, 'invalid_json');
    await expectError(postJson(infer, [1, 2]), 400, 'invalid_request');
    await expectError(postJson(infer, { inputs: { ...good, c: good.a } }), 400, 'unknown_input');
    await expectError(postJson(infer, { inputs: { a: good.a } }), 400, 'missing_input');
    await expectError(postJson(infer, { inputs: { ...good, b: { type: 'int32', dims: [1, 4], data: [1, 1, 1, 1] } } }), 400, 'type_mismatch');
    await expectError(postJson(infer, { inputs: { ...good, b: { type: 'float32', dims: [4], data: [1, 1, 1, 1] } } }), 400, 'shape_mismatch');
    await expectError(postJson(infer, { inputs: { ...good, b: { type: 'float32', dims: [1, 5], data: [1, 1, 1, 1, 1] } } }), 400, 'shape_mismatch');
    await expectError(postJson(infer, { inputs: { ...good, b: { type: 'float32', dims: [1, 4], data: [1, 1, 1] } } }), 400, 'invalid_tensor');
    await expectError(postJson(infer, { inputs: { ...good, b: { type: 'float32', dims: [1, 4], data: [1, 1, 1, 'x'] } } }), 400, 'invalid_tensor');
    await expectError(postJson(infer, { inputs: { ...good, b: { type: 'complex', dims: [1, 4], data: [1, 1, 1, 1] } } }), 400, 'invalid_tensor');
    const binary = encodeTensors({ a: tensorFromJson('a', good.a), b: tensorFromJson('b', good.b) });
    await expectError(
      call(infer, { method: 'POST', headers: { 'content-type': TENSORS_MEDIA_TYPE }, body: binary.subarray(0, binary.length - 1) }),
      400,
      'invalid_tensor',
    );
    // The binary encoding is accepted as input too.
    const ok = await call(infer, { method: 'POST', headers: { 'content-type': TENSORS_MEDIA_TYPE }, body: binary });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body.outputs.sum.data, [2, 3, 4, 5]);
    // A model that cannot run on inputs that fit its declared signature: the model's error, 422.
    await expectError(
      postJson(`${stack.gateway}/v1/models/silero-vad/infer`, {
        inputs: {
          input: { type: 'float32', dims: [1, 512], data: new Array(512).fill(0) },
          state: { type: 'float32', dims: [2, 3, 128], data: new Array(768).fill(0) },
          sr: { type: 'int64', dims: [], data: [16000] },
        },
      }),
      422,
      'model_rejected_input',
    );
    assert.deepEqual(await backendsSnapshot(), receiptsBefore);
  });

  it('refuses an oversized body with 413 before reading it all', async () => {
    const big = new Uint8Array(33 * 1024 * 1024 + 1).fill(0x20);
    await expectError(
      call(`${stack.gateway}/v1/models/tiny-add/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big }),
      413,
      'payload_too_large',
    );
  });

  it('answers unknown routes with 404 not_found', async () => {
    await expectError(call(`${stack.gateway}/v1/nothing-here`), 404, 'not_found');
  });
});

// Every backend healthy with nothing in flight: a bad request left no lease behind and no backend in cool-down.
async function backendsSnapshot(): Promise<unknown> {
  const { body } = await call(`${stack.gateway}/v1/backends`);
  return body.backends.map((b: { id: string; healthy: boolean; inFlight: number }) => ({ id: b.id, healthy: b.healthy, inFlight: b.inFlight }));
}
