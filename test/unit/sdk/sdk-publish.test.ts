import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sha256Hex } from '../../../core/tensors';
import { UploadHashMismatchError, publishModel } from '../../../sdk/src/index';

// What publishModel asks the gateway for: the pricing terms in the query, the routes of a multipart
// upload, and a check that the gateway stored the bytes it was sent. (The real gateway takes these
// requests in test/e2e/cli.test.ts, which publishes through the SDK, multipart included.)

const GATEWAY = 'http://gateway.invalid';
const json = (value: unknown, status = 200) => new Response(JSON.stringify(value), { status, headers: { 'content-type': 'application/json' } });

function gateway(answer: (method: string, url: URL) => Response) {
  const calls: string[] = [];
  const fetchImpl: typeof fetch = async (input, init) => {
    const url = new URL(String(input));
    const method = init?.method ?? 'GET';
    if (init?.body instanceof ReadableStream) await new Response(init.body).arrayBuffer();
    calls.push(`${method} ${url.pathname}${url.search}`);
    return answer(method, url);
  };
  return { calls, options: { gateway: GATEWAY, adminToken: 'admin', fetch: fetchImpl } };
}

describe('SDK: publishing a model', () => {
  const bytes = new Uint8Array(1000).map((_, i) => i % 251);

  it('sends metered terms as ?pricing=metered&ratePerMs=&base=&cap=, a fixed price as ?price=', async () => {
    const sha256 = await sha256Hex(bytes);
    const g = gateway(() => json({ name: 'm', version: 1, sha256, created: true }, 201));
    await publishModel(g.options, 'm', bytes, { metered: { ratePerMs: 7, base: '11', cap: 1000n }, settlement: 'async' });
    await publishModel(g.options, 'm', bytes, { price: 1500 });
    assert.deepEqual(g.calls, [
      'POST /v1/models/m/versions?pricing=metered&ratePerMs=7&base=11&cap=1000&settlement=async',
      'POST /v1/models/m/versions?price=1500',
    ]);
    await assert.rejects(publishModel(g.options, 'm', bytes, { price: 1, metered: { ratePerMs: 1, cap: 1 } }), TypeError);
    assert.equal(g.calls.length, 2, 'refused before sending');
  });

  it('refuses an answer whose sha256 is not that of the bytes sent', async () => {
    const g = gateway(() => json({ name: 'm', version: 1, sha256: `0x${'00'.repeat(32)}`, created: true }, 201));
    await assert.rejects(publishModel(g.options, 'm', bytes), UploadHashMismatchError);
  });

  it('goes multipart above partBytes with the upload routes, and abandons an upload whose parts the gateway would refuse', async () => {
    const sha256 = await sha256Hex(bytes);
    const limits = { uploadId: 'u1', partBytes: 400, minPartBytes: 300, maxPartBytes: 600, maxParts: 10, maxBytes: 10_000 };
    const g = gateway((method, url) => {
      if (url.pathname.endsWith('/uploads')) return json(limits, 201);
      if (method === 'PUT') return json({ partNumber: Number(url.pathname.split('/').pop()), etag: `e${url.pathname.split('/').pop()}` });
      if (url.pathname.endsWith('/complete')) return json({ name: 'm', version: 2, sha256, created: true }, 201);
      return new Response(null, { status: 204 });
    });
    const progress: number[] = [];
    const published = await publishModel(g.options, 'm', bytes, { partBytes: 400, price: 5, onProgress: (sent) => progress.push(sent) });
    assert.equal(published.version, 2);
    assert.deepEqual(g.calls, [
      'POST /v1/models/m/uploads',
      'PUT /v1/models/m/uploads/u1/parts/1',
      'PUT /v1/models/m/uploads/u1/parts/2',
      'PUT /v1/models/m/uploads/u1/parts/3',
      'POST /v1/models/m/uploads/u1/complete?price=5',
    ]);
    assert.equal(progress.at(-1), bytes.length);

    g.calls.length = 0;
    await assert.rejects(publishModel(g.options, 'm', bytes, { partBytes: 200 }), /partBytes must be from 300 to 600/);
    assert.deepEqual(g.calls, ['POST /v1/models/m/uploads', 'DELETE /v1/models/m/uploads/u1']);
  });
});
