import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, describe, it } from 'node:test';
import type { LocalStackFile } from '../../local-stack/stack-file';
import { testModels } from '../../scripts/generate-test-models';
import { call } from '../support/gateway-client';
import { sharedStack } from '../support/test-stack';

let stack: LocalStackFile;
before(async () => {
  stack = await sharedStack();
});

const sha = (b: Uint8Array): string => `0x${createHash('sha256').update(b).digest('hex')}`;
const upload = (name: string, bytes: Uint8Array, opts: { price?: string; token?: string | null } = {}) =>
  call(`${stack.gateway}/v1/models/${name}/versions${opts.price === undefined ? '' : `?price=${opts.price}`}`, {
    method: 'POST',
    headers: opts.token === null ? {} : { authorization: `Bearer ${opts.token ?? stack.adminToken}` },
    body: bytes,
  });

describe('model hub', () => {
  it('lists the published models with their signature read from the ONNX graph', async () => {
    const res = await call(`${stack.gateway}/v1/models`);
    assert.equal(res.status, 200);
    const silero = res.body.models.find((m: { name: string }) => m.name === 'silero-vad');
    assert.equal(silero.price, '0');
    assert.equal(silero.size, 2327524);
    assert.deepEqual(
      silero.inputs.map((i: { name: string }) => i.name),
      ['input', 'state', 'sr'],
    );
    assert.deepEqual(
      silero.outputs.map((o: { name: string }) => o.name),
      ['output', 'stateN'],
    );
    assert.ok(res.body.models.some((m: { name: string }) => m.name === 'ppocr-det'));
  });

  it('versions uploads, is idempotent for identical bytes, and serves bytes by sha256', async () => {
    const [v1bytes, v2bytes] = [testModels('-hub-a')[0]!.bytes, testModels('-hub-b')[0]!.bytes];
    const first = await upload('hub-test', v1bytes);
    assert.equal(first.status, 201);
    assert.equal(first.body.version, 1);
    assert.equal(first.body.sha256, sha(v1bytes));
    assert.equal(first.body.created, true);
    const again = await upload('hub-test', v1bytes);
    assert.equal(again.status, 200);
    assert.equal(again.body.version, 1);
    assert.equal(again.body.created, false);
    const second = await upload('hub-test', v2bytes, { price: '0' });
    assert.equal(second.body.version, 2);
    const priced = await upload('hub-test', v2bytes, { price: '1000' });
    assert.equal(priced.body.version, 3);
    assert.equal(priced.body.price, '1000');
    const listing = await call(`${stack.gateway}/v1/models/hub-test`);
    assert.deepEqual(
      listing.body.versions.map((v: { version: number }) => v.version),
      [3, 2, 1],
    );
    assert.equal(Date.parse(listing.body.versions[0].createdAt) > 0, true);
    const blob = await fetch(`${stack.gateway}/v1/blobs/${first.body.sha256}`);
    assert.equal(blob.status, 200);
    assert.equal(sha(new Uint8Array(await blob.arrayBuffer())), first.body.sha256);
    const latest = (await call(`${stack.gateway}/v1/models`)).body.models.find((m: { name: string }) => m.name === 'hub-test');
    assert.equal(latest.latestVersion, 3);
    // The latest version is priced: no version is served without paying the price now.
    const body = JSON.stringify({
      inputs: { a: { type: 'float32', dims: [1, 4], data: [1, 2, 3, 4] }, b: { type: 'float32', dims: [1, 4], data: [1, 1, 1, 1] } },
    });
    const paid = await call(`${stack.gateway}/v1/models/hub-test/infer`, { method: 'POST', body });
    assert.equal(paid.status, 402);
    assert.equal(paid.body.accepts[0].amount, '1000');
    const v2 = await call(`${stack.gateway}/v1/models/hub-test/infer?version=2`, { method: 'POST', body });
    assert.equal(v2.status, 402);
    assert.equal(v2.body.accepts[0].amount, '1000');
    const v1 = await call(`${stack.gateway}/v1/models/hub-test/infer?version=1`, { method: 'POST', body, headers: { accept: 'application/json' } });
    assert.equal(v1.status, 402, 'an older version costs what the publisher asks now');
  });

  it('gives concurrent uploads distinct versions', async () => {
    const replies = await Promise.all([0, 1, 2, 3].map((i) => upload('hub-race', testModels(`-race-${i}`)[0]!.bytes)));
    assert.deepEqual(
      replies.map((r) => r.status),
      [201, 201, 201, 201],
    );
    assert.deepEqual(replies.map((r) => r.body.version).sort(), [1, 2, 3, 4]);
  });

  describe('refuses uploads without the admin token or with bad content, and changes nothing', () => {
    const bytes = testModels('-refused')[0]!.bytes;
    /** Runs `refuse` and checks it changed nothing: the same model list, no model `refused`, no blob of `bytes`. */
    async function changesNothing(refuse: () => Promise<void>): Promise<void> {
      const before = (await call(`${stack.gateway}/v1/models`)).body;
      await refuse();
      assert.deepEqual((await call(`${stack.gateway}/v1/models`)).body, before);
      assert.equal((await call(`${stack.gateway}/v1/models/refused`)).body.error.code, 'model_not_found');
      assert.equal((await call(`${stack.gateway}/v1/blobs/${sha(bytes)}`)).status, 404);
    }

    it('without the admin token: unauthorized', () =>
      changesNothing(async () => {
        assert.equal((await upload('refused', bytes, { token: null })).body.error.code, 'unauthorized');
      }));

    it('with a wrong token: 401', () =>
      changesNothing(async () => {
        assert.equal((await upload('refused', bytes, { token: 'wrong' })).status, 401);
      }));

    it('bytes that are not ONNX: 400 invalid_model', () =>
      changesNothing(async () => {
        const notOnnx = await upload('refused', new TextEncoder().encode('definitely not onnx'));
        assert.equal(notOnnx.status, 400);
        assert.equal(notOnnx.body.error.code, 'invalid_model');
      }));

    it('a name that is not one: invalid_model_name', () =>
      changesNothing(async () => {
        assert.equal((await upload('Bad Name!', bytes)).body.error.code, 'invalid_model_name');
      }));

    it('a negative price: invalid_price', () =>
      changesNothing(async () => {
        assert.equal((await upload('refused', bytes, { price: '-1' })).body.error.code, 'invalid_price');
      }));

    it('no bytes: invalid_model', () =>
      changesNothing(async () => {
        assert.equal((await upload('refused', new Uint8Array())).body.error.code, 'invalid_model');
      }));

    it('a blob id that is no sha256: 400', async () => {
      assert.equal((await call(`${stack.gateway}/v1/blobs/xyz`)).status, 400);
    });
  });
});
