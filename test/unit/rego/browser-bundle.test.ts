import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { build } from 'esbuild';
import * as engine from '../../../core/rego';
import { REPO_ROOT } from '../../../local-stack/demo-models';

// The engine must bundle for browsers (no Node built-ins anywhere in its import graph) and the
// bundle must decide exactly as the engine does in Node.

describe('the Rego engine in a browser bundle', () => {
  it('bundles for the browser platform and evaluates identically', async () => {
    const result = await build({
      entryPoints: [`${REPO_ROOT}/core/rego/index.ts`], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent',
    });
    assert.deepEqual(result.errors, []);
    const code = result.outputFiles[0]!.text;
    assert.doesNotMatch(code, /from ["']node:/);
    const bundled = (await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)) as typeof engine;
    const rego = readFileSync(`${REPO_ROOT}/policies/admission.rego`, 'utf8');
    const params = JSON.parse(readFileSync(`${REPO_ROOT}/policies/admission.params.json`, 'utf8')) as object;
    const input = { caller: null, model: 'm', version: 2, price: '5', method: 'GET', path: '/', headers: { 'cf-ipcountry': 'XX', 'user-agent': 'BadBot/2' }, time: '2026-11-25T03:00:00Z' };
    const decide = (e: typeof engine): unknown => {
      const policy = e.compilePolicy({ 'admission.rego': rego });
      const opts = { input, data: { params }, context: { nowNs: 1n } };
      return ['allow', 'deny', 'tier'].map((r) => e.toJSON(e.evaluateValue(policy, `data.proofgate.admission.${r}`, opts)!));
    };
    const expected = decide(engine);
    assert.deepEqual(decide(bundled), expected);
    assert.equal((expected as unknown[])[0], false);
  });
});
