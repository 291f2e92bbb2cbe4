/**
 * Runs OPA's conformance cases (shared/rego-conformance, beside the repository) against the
 * engine through test/rego/evaluator.mjs, and fails when a tier passes fewer cases than the floor
 * recorded in conformance-floor.json. Override the cases folder with REGO_CONFORMANCE_DIR.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..');
const casesDir = process.env.REGO_CONFORMANCE_DIR ?? resolve(repoRoot, '..', 'shared', 'rego-conformance');
const floor = JSON.parse(readFileSync(join(here, 'conformance-floor.json'), 'utf8')) as Record<string, number>;

test('Rego conformance: tiers A and B stay at or above their floor', { timeout: 300_000 }, () => {
  const runner = join(casesDir, 'run-conformance.mjs');
  assert.ok(existsSync(runner), `conformance runner not found at ${runner} (set REGO_CONFORMANCE_DIR)`);
  const tiers = Object.keys(floor);
  const res = spawnSync(process.execPath, ['--import', 'tsx', runner, join(here, 'evaluator.mjs'), '--tier', tiers.join(',')], {
    cwd: repoRoot,
    env: { ...process.env, REGO_HARNESS_NODE_MODULES: join(repoRoot, 'node_modules') },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: 280_000,
  });
  assert.equal(res.status, 0, `runner failed (status ${res.status}):\n${res.stderr}\n${res.stdout}`);
  for (const tier of tiers) {
    const m = new RegExp(`^tier ${tier}: (\\d+)/(\\d+) passed`, 'm').exec(res.stdout);
    assert.ok(m, `no totals for tier ${tier} in the runner output:\n${res.stdout}`);
    const passed = Number(m[1]);
    assert.ok(passed >= floor[tier]!, `tier ${tier}: ${passed}/${m[2]} passed, below the floor of ${floor[tier]}`);
  }
  assert.doesNotMatch(res.stdout, /\btimeout \d|\bcrash \d/, 'no case may time out or crash');
});
