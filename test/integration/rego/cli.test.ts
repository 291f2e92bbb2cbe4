import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const scratch: string[] = [];
after(() => {
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

/** A new directory of its own, removed after the file's tests. */
function freshDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'rego-cli-'));
  scratch.push(d);
  return d;
}

const POLICY = `package demo

default allow := false

allow if {
  input.user == "alice"
  input.amount < data.limits.max
}

test_alice if allow with input as {"user": "alice", "amount": 1}
test_bob if not allow with input as {"user": "bob", "amount": 1}
`;

/** A new directory with the demo policy, its data and an input. */
function policyDir(): string {
  const d = freshDir();
  writeFileSync(join(d, 'policy.rego'), POLICY);
  writeFileSync(join(d, 'data.json'), JSON.stringify({ limits: { max: 100 } }));
  writeFileSync(join(d, 'input.json'), JSON.stringify({ user: 'alice', amount: 5 }));
  return d;
}
/** Shared by the tests below; none of them writes to it (a test that adds files makes its own). */
const dir = policyDir();

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

  it('test runs test_ rules', () => {
    const ok = cli('test', dir, '-v');
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /data\.demo\.test_alice: PASS/);
    assert.match(ok.stdout, /PASS: 2\/2/);
  });

  it('test fails the exit status on a failing test', () => {
    const withBroken = policyDir();
    writeFileSync(join(withBroken, 'broken.rego'), 'package demo\n\ntest_broken if allow with input as {"user": "bob"}\n');
    const bad = cli('test', withBroken);
    assert.equal(bad.status, 1);
    assert.match(bad.stdout, /data\.demo\.test_broken: FAIL/);
    assert.match(bad.stdout, /FAIL: 1\/3/);
  });

  it('test applies --max-steps to each test rule', () => {
    const loopDir = freshDir();
    writeFileSync(
      join(loopDir, 'loop.rego'),
      'package steps\n\nbig contains x if some x in numbers.range(1, 1000)\n\ntest_big if count(big) == 1000\n',
    );
    const free = cli('test', loopDir);
    assert.equal(free.status, 0, free.stdout + free.stderr);
    const capped = cli('test', '--max-steps', '10', loopDir);
    assert.equal(capped.status, 1, capped.stdout + capped.stderr);
    assert.match(capped.stdout, /data\.steps\.test_big: ERROR/);
    assert.match(capped.stdout, /exceeded 10 steps/);
  });

  it('reports compile errors with their location', () => {
    const r = cli('eval', '--data', join(dir, 'policy.rego'), 'data.demo.nope(');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /rego_parse_error/);
  });
});
