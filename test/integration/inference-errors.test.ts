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

  describe('refuses a binary tensor header that declares more bytes than the body may hold, from the header alone (413)', () => {
    // A header declaring a float32[1, 2^38] tensor (2^40 bytes), and none of its data.
    const head = new Uint8Array(4 + 4 + 1 + 1 + 7 + 4 + 16 + 8);
    const view = new DataView(head.buffer);
    view.setUint32(0, 1, true); // one tensor
    view.setUint32(4, 1, true); // name "a"
    head[8] = 0x61;
    head[9] = 7; // type "float32"
    head.set(new TextEncoder().encode('float32'), 10);
    view.setUint32(17, 2, true); // dims [1, 2^38]
    view.setBigUint64(21, 1n, true);
    view.setBigUint64(29, 2n ** 38n, true);
    view.setBigUint64(37, 2n ** 40n, true); // 2^40 data bytes
    for (const model of ['tiny-add', 'ppocr-det']) {
      it(`by ${model}`, async () => {
        await expectError(
          call(`${stack.gateway}/v1/models/${model}/infer`, { method: 'POST', headers: { 'content-type': TENSORS_MEDIA_TYPE }, body: head }),
          413,
          'payload_too_large',
        );
      });
    }
  });

  it('caps a JSON body by what a fixed-shape model can take', async () => {
    // tiny-add takes 8 float32 elements: a 1 MiB JSON body is refused without being parsed.
    const padded = JSON.stringify({ inputs: good, padding: 'x'.repeat(1024 * 1024) });
    await expectError(call(`${stack.gateway}/v1/models/tiny-add/infer`, { method: 'POST', body: padded }), 413, 'payload_too_large');
  });

  it('checks dims against the data before converting it', async () => {
    // Dims claiming 50M elements (200 MB of float32) with one element of data: refused, nothing converted.
    const huge = { x: { data: [0.5], type: 'float32', dims: [1, 3, 4096, 4096] } };
    const res = await postJson(`${stack.gateway}/v1/models/ppocr-det/infer`, { inputs: huge });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'invalid_tensor');
    assert.match(res.body.error.message, /hold 50331648 elements but data has 1/);
  });

  it('reads any order of type, dims and data the same', async () => {
    const reordered = await call(`${stack.gateway}/v1/models/tiny-add/infer`, {
      method: 'POST',
      body: `{"inputs":{"b":{"data":[1,1,1,1],"dims":[1,4],"type":"float32"},"a":{"dims":[1,4],"data":[1,2,3,4],"type":"float32"}}}`,
    });
    assert.equal(reordered.status, 200, JSON.stringify(reordered.body));
    assert.deepEqual(reordered.body.outputs.sum.data, [2, 3, 4, 5]);
  });

  describe('never answers a malformed path, name or body with a 5xx', () => {
    it('a bad percent-encoding in an infer path: 400 invalid_path', async () => {
      await expectError(call(`${stack.gateway}/v1/models/%E0%A4%A/infer`, { method: 'POST', body: '{}' }), 400, 'invalid_path');
    });

    it('a bad percent-encoding in a model path: 400 invalid_path', async () => {
      await expectError(call(`${stack.gateway}/v1/models/%E0%A4%A`), 400, 'invalid_path');
    });

    it('a 5,000-character model name: 404 model_not_found', async () => {
      await expectError(postJson(`${stack.gateway}/v1/models/${'x'.repeat(5000)}/infer`, { inputs: good }), 404, 'model_not_found');
    });

    const bodies = [
      '',
      'null',
      '{"inputs": []}',
      '{"inputs": {"a": 1}}',
      `{"inputs": ${'['.repeat(10000)}}`,
      '{"inputs": {"__proto__": {}}}',
      '\u0000',
    ];
    for (const body of bodies) {
      it(`a JSON body ${JSON.stringify(body.slice(0, 40))}: 400`, async () => {
        const res = await call(`${stack.gateway}/v1/models/tiny-add/infer`, { method: 'POST', body });
        assert.equal(res.status, 400, JSON.stringify(res.body));
      });
    }

    const binaries: [string, Uint8Array][] = [
      ['empty', new Uint8Array()],
      ['a tensor count with a name length past the end', new Uint8Array([1, 0, 0, 0, 255, 255, 255, 255])],
      ['64 bytes of 0xff', new Uint8Array(64).fill(0xff)],
    ];
    for (const [name, body] of binaries) {
      it(`a binary body, ${name}: a 4xx`, async () => {
        const res = await call(`${stack.gateway}/v1/models/tiny-types/infer`, {
          method: 'POST',
          headers: { 'content-type': TENSORS_MEDIA_TYPE },
          body,
        });
        assert.ok(res.status >= 400 && res.status < 500, `${res.status} ${JSON.stringify(res.body)}`);
      });
    }
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
