import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { LocalStackFile } from '../../local-stack/stack-file';
import { call } from '../support/gateway-client';
import { d1Rows, stateDirOf } from '../support/stored-state';
import { sharedStack } from '../support/test-stack';

// A path parameter that is not valid percent-encoding is the caller's error: 400 invalid_path, with
// nothing stored. Found by `npm run reliability` (malformed input): the admin routes that decoded a
// model name themselves answered 500 to `%ZZ` and to an overlong UTF-8 escape.

let stack: LocalStackFile;
before(async () => {
  stack = await sharedStack();
});

const BAD_NAMES = ['%ZZ', '%C0%AF', '%'];
const ROUTES: { method: string; path: (name: string) => string; body?: string }[] = [
  { method: 'POST', path: (n) => `/v1/models/${n}/uploads` },
  { method: 'PUT', path: (n) => `/v1/models/${n}/policy`, body: JSON.stringify({ policyId: `0x${'ab'.repeat(32)}` }) },
  { method: 'DELETE', path: (n) => `/v1/models/${n}/policy` },
];

describe('admin routes with a badly encoded model name', () => {
  for (const route of ROUTES) {
    for (const name of BAD_NAMES) {
      it(`${route.method} ${route.path(name)} answers 400 invalid_path and stores nothing`, async () => {
        const stored = d1Rows(stateDirOf(stack), 'SELECT COUNT(*) AS n FROM model_policies');
        const res = await call(`${stack.gateway}${route.path(name)}`, {
          method: route.method,
          headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
          ...(route.body ? { body: route.body } : {}),
        });
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.equal(res.body.error.code, 'invalid_path');
        assert.deepEqual(d1Rows(stateDirOf(stack), 'SELECT COUNT(*) AS n FROM model_policies'), stored);
      });
    }
  }
});

describe('the explorer receipt page', () => {
  for (const id of ['%ZZ', '..%2F..%2Fetc', '0xzz', `0x${'ab'.repeat(31)}`]) {
    it(`answers 404 not_found for the id ${id}, which no receipt can have`, async () => {
      const res = await call(`${stack.gateway}/receipts/${id}`, { headers: { accept: 'text/html' } });
      assert.equal(res.status, 404);
      assert.equal(res.body.error.code, 'not_found');
    });
  }
});

describe('unbinding the policy of a name no model can have', () => {
  for (const name of ['%00', '%E2%80%AE', '..%2F..%2Fetc']) {
    it(`DELETE /v1/models/${name}/policy answers 400 invalid_model_name`, async () => {
      const res = await call(`${stack.gateway}/v1/models/${name}/policy`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${stack.adminToken}` },
      });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'invalid_model_name');
    });
  }
});
