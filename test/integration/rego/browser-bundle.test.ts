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
      entryPoints: [`${REPO_ROOT}/core/rego/index.ts`],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
    });
    assert.deepEqual(result.errors, []);
    const code = result.outputFiles[0]!.text;
    assert.doesNotMatch(code, /from ["']node:/);
    const bundled = (await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)) as typeof engine;
    const rego = readFileSync(`${REPO_ROOT}/policies/admission.rego`, 'utf8');
    const params = JSON.parse(readFileSync(`${REPO_ROOT}/policies/admission.params.json`, 'utf8')) as object;
    const input = {
      caller: null,
      model: 'm',
      version: 2,
      price: '5',
      method: 'GET',
      path: '/',
      headers: { 'cf-ipcountry': 'XX', 'user-agent': 'BadBot/2' },
      time: '2026-11-25T03:00:00Z',
    };
    const decide = (e: typeof engine): unknown => {
      const policy = e.compilePolicy({ 'admission.rego': rego });
      const opts = { input, data: { params }, context: { nowNs: 1n } };
      return ['allow', 'deny', 'tier'].map((r) => e.toJSON(e.evaluateValue(policy, `data.proofgate.admission.${r}`, opts)!));
    };
    const expected = decide(engine);
    assert.deepEqual(decide(bundled), expected);
    assert.equal((expected as unknown[])[0], false);
  });

  it('bundles re2js and the Newton extensions, which decide identically and deterministically there', async () => {
    const result = await build({
      entryPoints: [`${REPO_ROOT}/core/rego/index.ts`],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
    });
    const code = result.outputFiles[0]!.text;
    assert.doesNotMatch(code, /from ["']node:/);
    assert.match(code, /RE2JSSyntaxException/);
    const bundled = (await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)) as typeof engine;
    const rego = `package t
slow := regex.match(\`(a+)+$\`, input.long)
lookahead := regex.is_valid("(?=a)")
replaced := regex.replace("abc", "(?P<x>b)", "[$x]")
split := regex.split("x*", "axbc")
parts := regex.find_all_string_submatch_n("(a)|(b)", "ab", -1)
glob := glob.match("*.example.com", ["."], "api.example.com")
signer := newton.crypto.ecdsa_recover_signer_personal(input.sig, "Some data")
`;
    const input = {
      long: `${'a'.repeat(50_000)}!`,
      sig: '0xb91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a0291c',
    };
    const decide = (e: typeof engine): unknown => {
      const policy = e.compilePolicy({ 't.rego': rego });
      const values = e.toJSON(e.evaluateValue(policy, 'data.t', { input })!);
      let limit = '';
      try {
        e.evaluateValue(policy, 'data.t.slow', { input, limits: { maxSteps: 10_000 } });
      } catch (err) {
        limit = (err as { code: string }).code;
      }
      return { values, limit };
    };
    const expected = decide(engine);
    assert.deepEqual(decide(bundled), expected);
    assert.deepEqual(decide(bundled), expected);
    assert.deepEqual(expected, {
      values: {
        slow: false,
        lookahead: false,
        replaced: 'a[b]c',
        split: ['a', 'b', 'c'],
        parts: [
          ['a', 'a', ''],
          ['b', '', 'b'],
        ],
        glob: true,
        signer: '0x2c7536E3605D9C16a7a3D7b1898e529396a65c23',
      },
      limit: 'eval_limit_exceeded',
    });
  });
});
