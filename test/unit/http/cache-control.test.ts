import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IRequest } from 'itty-router';
import { IMMUTABLE_CACHE_CONTROL, applyCacheControl, immutable } from '../../../workers/http/cache-control';
import type { Env } from '../../../workers/env';

const req = (): IRequest => new Request('http://gateway.test/v1/x') as unknown as IRequest;
const env = {} as Env;
const ctx = {} as ExecutionContext;

describe('applyCacheControl', () => {
  it('answers no-store unless the route is content-addressed', () => {
    assert.equal(applyCacheControl(Response.json({ ok: true }), req()).headers.get('cache-control'), 'no-store');
    assert.equal(applyCacheControl(Response.json({ error: {} }, { status: 402 }), req()).headers.get('cache-control'), 'no-store');
  });

  it('lets a content-addressed route be cached for good, but only its 200s', async () => {
    const found = req();
    await immutable(found, env, ctx);
    assert.equal(applyCacheControl(Response.json({}), found).headers.get('cache-control'), IMMUTABLE_CACHE_CONTROL);
    const missing = req();
    await immutable(missing, env, ctx);
    assert.equal(applyCacheControl(Response.json({}, { status: 404 }), missing).headers.get('cache-control'), 'no-store');
  });

  it("keeps an answer's own Cache-Control", () => {
    const res = new Response('bytes', { headers: { 'cache-control': IMMUTABLE_CACHE_CONTROL } });
    assert.equal(applyCacheControl(res, req()).headers.get('cache-control'), IMMUTABLE_CACHE_CONTROL);
  });

  it('copies an answer whose headers cannot change', () => {
    const res = Response.redirect('http://gateway.test/elsewhere', 302);
    const out = applyCacheControl(res, req());
    assert.equal(out.status, 302);
    assert.equal(out.headers.get('cache-control'), 'no-store');
    assert.equal(out.headers.get('location'), 'http://gateway.test/elsewhere');
  });
});
