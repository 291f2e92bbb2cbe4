import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeFieldKey, encodeLengthDelimited, encodeVarint, readFields } from '../../core/onnx/protobuf-wire';
import { buildOnnxModel } from '../../gpu-backend/onnx-model-builder';
import type { LocalStackFile } from '../../local-stack/stack-file';
import { uploadModelFile } from '../../scripts/publish-model';
import { testModels } from '../../scripts/generate-test-models';
import { call, postJson } from '../support/gateway-client';
import { sharedStack } from '../support/test-stack';

// A model larger than a Worker's 128 MB of memory is published through the multipart upload and
// served: backends fetch it by hash and run it. The Worker only ever streams it (model-upload.ts).

const WEIGHTS = 34_000_000; // float32s: 136 MB, more than a Worker could hold
const LAST_WEIGHT = 3.5;

const stack: LocalStackFile = await sharedStack();
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'proofgate-upload-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const admin = () => ({ authorization: `Bearer ${stack.adminToken}` });

/** y = x + sum(W): W is 136 MB of zeros but for its last weight, so the answer shows all of W was loaded. */
function bigModel(): Uint8Array {
  const small = buildOnnxModel({
    name: 'big-sum',
    inputs: [{ name: 'x', type: 'float32', dims: [1] }],
    outputs: [{ name: 'y', type: 'float32', dims: [1] }],
    nodes: [
      { op: 'ReduceSum', inputs: ['W'], outputs: ['s'], attributes: { keepdims: 0 } },
      { op: 'Add', inputs: ['x', 's'], outputs: ['y'] },
    ],
  });
  // Insert the initializer W before the graph's inputs, where exporters write weights.
  const tensorHead = [
    ...encodeFieldKey(1, 0),
    ...encodeVarint(WEIGHTS),
    ...encodeFieldKey(2, 0),
    1,
    ...encodeFieldKey(8, 2),
    1,
    'W'.charCodeAt(0),
    ...encodeFieldKey(9, 2),
    ...encodeVarint(WEIGHTS * 4),
  ];
  const tensorLength = tensorHead.length + WEIGHTS * 4;
  const initializerHead = [...encodeFieldKey(5, 2), ...encodeVarint(tensorLength), ...tensorHead];
  const modelParts: (number[] | Uint8Array)[] = [];
  for (const f of readFields(small)) {
    if (f.field !== 7) {
      modelParts.push(encodeField(f.field, f.wireType, f.varint, f.bytes));
      continue;
    }
    const before: Uint8Array[] = [];
    const afterW: Uint8Array[] = [];
    for (const g of readFields(f.bytes))
      (g.field === 11 || g.field === 12 ? afterW : before).push(encodeField(g.field, g.wireType, g.varint, g.bytes));
    const graphLength = [...before, ...afterW].reduce((n, b) => n + b.length, 0) + initializerHead.length + WEIGHTS * 4;
    modelParts.push([...encodeFieldKey(7, 2), ...encodeVarint(graphLength)], ...before, initializerHead, new Uint8Array(WEIGHTS * 4), ...afterW);
  }
  const out = new Uint8Array(modelParts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  let weightsAt = 0;
  for (const p of modelParts) {
    if (p.length === WEIGHTS * 4) weightsAt = o;
    out.set(p, o);
    o += p.length;
  }
  new DataView(out.buffer).setFloat32(weightsAt + (WEIGHTS - 1) * 4, LAST_WEIGHT, true);
  return out;
}

function encodeField(field: number, wireType: number, value: bigint, bytes: Uint8Array): Uint8Array {
  if (wireType === 0) return Uint8Array.from([...encodeFieldKey(field, 0), ...encodeVarint(value)]);
  if (wireType === 2) return encodeLengthDelimited(field, bytes);
  return Uint8Array.from([...encodeFieldKey(field, wireType), ...bytes]);
}

describe('model uploads', () => {
  it('publishes a model larger than a Worker can hold through the multipart upload, and serves it', { timeout: 600_000 }, async () => {
    const bytes = bigModel();
    assert.ok(bytes.length > 128 * 1024 * 1024);
    const sha256 = `0x${createHash('sha256').update(bytes).digest('hex')}`;
    const file = join(dir, 'big-sum.onnx');
    await writeFile(file, bytes);

    const published = await uploadModelFile({ gateway: stack.gateway, adminToken: stack.adminToken, name: 'big-sum', file });
    assert.equal(published.created, true);
    assert.equal(published.sha256, sha256);
    assert.equal(published.size, bytes.length);
    assert.deepEqual(published['inputs'], [{ name: 'x', type: 'float32', dims: [1] }], 'W is an initializer, not an input');
    assert.deepEqual(published['outputs'], [{ name: 'y', type: 'float32', dims: [1] }]);

    const blob = await fetch(`${stack.gateway}/v1/blobs/${sha256}`);
    assert.equal(blob.status, 200);
    assert.match(blob.headers.get('cache-control') ?? '', /immutable/);
    const served = createHash('sha256');
    for await (const chunk of blob.body!) served.update(chunk);
    assert.equal(`0x${served.digest('hex')}`, sha256);

    const reply = await postJson(`${stack.gateway}/v1/models/big-sum/infer`, { inputs: { x: { type: 'float32', dims: [1], data: [1] } } });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.deepEqual(reply.body.outputs.y.data, [1 + LAST_WEIGHT]);
    assert.equal(reply.body.receipt.modelSha256, sha256);
  });

  it('publishes the same bytes through either path to the same version, and nothing new', async () => {
    const [tinyAdd] = testModels('-upload-paths');
    const file = join(dir, 'tiny.onnx');
    await writeFile(file, tinyAdd!.bytes);
    const single = await uploadModelFile({ gateway: stack.gateway, adminToken: stack.adminToken, name: 'upload-paths', file });
    assert.equal(single.created, true);
    // One part: only parts before the last have a minimum size.
    const multipart = await uploadModelFile({ gateway: stack.gateway, adminToken: stack.adminToken, name: 'upload-paths', file, multipart: true });
    assert.deepEqual({ ...multipart, created: true }, single);
    assert.equal(multipart.created, false);
  });

  describe('refuses what is not a model, and bad uploads, changing nothing', () => {
    const base = () => `${stack.gateway}/v1/models/upload-refusals`;
    const noVersion = async () => assert.equal((await call(base())).status, 404, 'no version was created');

    it('refuses to complete an upload that is not a model, and forgets it', async () => {
      const start = await call(`${base()}/uploads`, { method: 'POST', headers: admin() });
      assert.equal(start.status, 201);
      const { uploadId, minPartBytes } = start.body as { uploadId: string; minPartBytes: number };
      const part = await call(`${base()}/uploads/${uploadId}/parts/1`, {
        method: 'PUT',
        headers: admin(),
        body: new Uint8Array(minPartBytes).fill(0xff),
      });
      assert.equal(part.status, 200);
      const complete = await postJson(`${base()}/uploads/${uploadId}/complete`, { parts: [part.body] }, admin());
      assert.equal(complete.status, 400);
      assert.equal(complete.body.error.code, 'invalid_model');
      assert.equal((await postJson(`${base()}/uploads/${uploadId}/complete`, { parts: [part.body] }, admin())).body.error.code, 'upload_not_found');
      await noVersion();
    });

    it('takes no part for an aborted upload', async () => {
      const aborted = (await call(`${base()}/uploads`, { method: 'POST', headers: admin() })).body.uploadId as string;
      assert.equal((await call(`${base()}/uploads/${aborted}`, { method: 'DELETE', headers: admin() })).status, 204);
      const late = await call(`${base()}/uploads/${aborted}/parts/1`, { method: 'PUT', headers: admin(), body: new Uint8Array(16) });
      assert.equal(late.body.error.code, 'upload_not_found');
      await noVersion();
    });

    for (const [name, bad] of [
      ['a malformed upload id', () => 'nope'],
      ['an upload id that was never issued', () => `${crypto.randomUUID()}.AAAA`],
    ] as const) {
      it(`answers a part for ${name} with 404`, async () => {
        assert.equal((await call(`${base()}/uploads/${bad()}/parts/1`, { method: 'PUT', headers: admin(), body: new Uint8Array(16) })).status, 404);
        await noVersion();
      });
    }

    it('lets admins only start an upload', async () => {
      assert.equal((await call(`${base()}/uploads`, { method: 'POST' })).status, 401, 'admins only');
      await noVersion();
    });

    it('refuses a model name that is not one', async () => {
      const badName = await call(`${stack.gateway}/v1/models/Not%20A%20Name/uploads`, { method: 'POST', headers: admin() });
      assert.equal(badName.body.error.code, 'invalid_model_name');
    });

    it('refuses a negative price', async () => {
      const badPrice = await call(`${stack.gateway}/v1/models/upload-refusals/versions?price=-1`, {
        method: 'POST',
        headers: admin(),
        body: testModels()[0]!.bytes,
      });
      assert.equal(badPrice.body.error.code, 'invalid_price');
      await noVersion();
    });
  });

  it('answers JSON with Cache-Control: no-store, and content-addressed answers as immutable', async () => {
    for (const path of ['/healthz', '/v1/models', '/v1/backends', '/v1/models/no-such-model', '/v1/payments/pay_00000000000000000000000000000000']) {
      const res = await fetch(`${stack.gateway}${path}`);
      assert.equal(res.headers.get('cache-control'), 'no-store', path);
      assert.ok(res.headers.get('proofgate-request-id'), `${path} carries its request id`);
      await res.body?.cancel();
    }
    const model = stack.models[0]!;
    const blob = await fetch(`${stack.gateway}/v1/blobs/${model.sha256}`);
    assert.equal(blob.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    await blob.body?.cancel();
  });
});
