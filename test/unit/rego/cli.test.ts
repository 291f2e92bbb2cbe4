import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'rego-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

writeFileSync(
  join(dir, 'policy.rego'),
  `package demo

default allow := false

allow if {
  input.user == "alice"
  input.amount < data.limits.max
}

test_alice if allow with input as {"user": "alice", "amount": 1}
test_bob if not allow with input as {"user": "bob", "amount": 1}
`,
);
writeFileSync(join(dir, 'data.json'), JSON.stringify({ limits: { max: 100 } }));
writeFileSync(join(dir, 'input.json'), JSON.stringify({ user: 'alice', amount: 5 }));

function cli(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'cli', 'rego.ts'), ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('cli/rego.ts', () => {
  it('eval prints the value of an entrypoint as JSON', () => {
    const r = cli(
      'eval',
      '--data',
      join(dir, 'policy.rego'),
      '--data',
      join(dir, 'data.json'),
      '--input',
      join(dir, 'input.json'),
      'data.demo.allow',
    );
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { result: [{ expressions: [{ text: 'data.demo.allow', value: true }] }] });
  });

  it('eval prints bindings for queries with variables', () => {
    const r = cli('eval', '--data', dir, 'x := data.limits.max * 2');
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { result: [{ bindings: { x: 200 } }] });
  });

  it('test runs test_ rules and fails the exit status on a failing test', () => {
    const ok = cli('test', dir, '-v');
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /data\.demo\.test_alice: PASS/);
    assert.match(ok.stdout, /PASS: 2\/2/);
    writeFileSync(join(dir, 'broken.rego'), 'package demo\n\ntest_broken if allow with input as {"user": "bob"}\n');
    const bad = cli('test', dir);
    assert.equal(bad.status, 1);
    assert.match(bad.stdout, /data\.demo\.test_broken: FAIL/);
    assert.match(bad.stdout, /FAIL: 1\/3/);
  });

  it('reports compile errors with their location', () => {
    const r = cli('eval', '--data', join(dir, 'policy.rego'), 'data.demo.nope(');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /rego_parse_error/);
  });
});
