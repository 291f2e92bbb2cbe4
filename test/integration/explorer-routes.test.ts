import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { LocalStackFile } from '../../local-stack/stack-file';
import { call, postJson } from '../support/gateway-client';
import { sharedStack } from '../support/test-stack';
import { pollUntil } from '../support/poll';

// What the explorer needs from the Worker: `/` is the explorer for browsers and the JSON index for
// API clients; recent receipts and tasks are listed; pages and their scripts are static assets.

let stack: LocalStackFile;
before(async () => {
  stack = await sharedStack();
});

const tinyAdd = {
  inputs: {
    a: { type: 'float32', dims: [1, 4], data: [1, 2, 3, 4] },
    b: { type: 'float32', dims: [1, 4], data: [Math.random(), 0, 0, 0] },
  },
};

describe('explorer routes', () => {
  it('answers / with the explorer to browsers and the route index to API clients', async () => {
    const page = await fetch(`${stack.gateway}/`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await page.text(), /Proofgate explorer/);
    assert.match(page.headers.get('vary') ?? '', /accept/i);
    for (const accept of [undefined, '*/*', 'application/json']) {
      const res = await call(`${stack.gateway}/`, accept ? { headers: { accept } } : {});
      assert.equal(res.status, 200);
      assert.equal(res.body.name, 'Proofgate', `Accept: ${accept}`);
    }
  });

  it('serves the pages and their built scripts as static assets, and receipt pages by request id', async () => {
    for (const path of ['/verify', '/try', '/style.css', '/build/home.js', '/build/receipt.js']) {
      const res = await fetch(`${stack.gateway}${path}`);
      assert.equal(res.status, 200, path);
      await res.arrayBuffer();
    }
    const receiptPage = await fetch(`${stack.gateway}/receipts/0x${'ab'.repeat(32)}`);
    assert.equal(receiptPage.status, 200);
    assert.match(await receiptPage.text(), /data-verdict|id="verdict"/);
    const api = await call(`${stack.gateway}/v1/models`);
    assert.equal(api.status, 200, 'API routes still reach the Worker');
    assert.equal((await call(`${stack.gateway}/v1/nothing-here`)).body.error.code, 'not_found');
  });

  it('lists recent receipts newest first, filtered by model, with a bounded limit', async () => {
    const reply = await postJson(`${stack.gateway}/v1/models/tiny-add/infer`, tinyAdd);
    assert.equal(reply.status, 200);
    const id = reply.body.receipt.requestId;
    // Receipts are persisted after the answer (waitUntil): poll until this one is there.
    const listed: any[] = await pollUntil(
      `receipt ${id} to be listed`,
      async () => (await call(`${stack.gateway}/v1/receipts?limit=100&model=tiny-add`)).body.receipts,
      (receipts: any[]) => receipts.some((r) => r.requestId === id),
      { timeoutMs: 30_000 },
    );
    const mine = listed.find((r) => r.requestId === id);
    assert.ok(mine, 'the new receipt is listed');
    assert.deepEqual({ ...mine, createdAt: undefined }, { ...reply.body.receipt, createdAt: undefined });
    assert.ok(listed.every((r) => r.model === 'tiny-add'));
    const times = listed.map((r) => Date.parse(r.createdAt));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => b - a),
    );
    assert.equal((await call(`${stack.gateway}/v1/receipts?limit=1`)).body.receipts.length, 1);
    for (const bad of ['0', '101', 'x', '1.5']) {
      const res = await call(`${stack.gateway}/v1/receipts?limit=${bad}`);
      assert.equal(res.status, 400, bad);
      assert.equal(res.body.error.code, 'invalid_limit');
    }
  });

  it('lists recent tasks', async () => {
    const res = await call(`${stack.gateway}/v1/tasks?limit=5`);
    assert.equal(res.status, 200);
    assert.ok(Array.isArray(res.body.tasks));
    assert.ok(res.body.tasks.length <= 5);
    assert.equal((await call(`${stack.gateway}/v1/tasks?limit=1000`)).status, 400);
  });
});
