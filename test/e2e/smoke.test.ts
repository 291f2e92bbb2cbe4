import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { REPO_ROOT } from '../../local-stack/demo-models';
import type { LocalStackFile } from '../../local-stack/stack-file';
import { call } from '../support/gateway-client';
import { launchTestStack, sharedStack } from '../support/test-stack';

// `npm run smoke` is what docs/deploying.md runs against a freshly deployed gateway; here it runs,
// as the real command, against local stacks: the shared one (health, a free call, a paid call) and
// one with operators (an intent). Then the stacks' logs are searched for their secrets.

type StackWithState = LocalStackFile & { stateDir?: string; logsDir?: string };

const shared: StackWithState = await sharedStack();

async function smoke(args: string[], env: Record<string, string> = {}): Promise<{ code: number; lines: string[] }> {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  try {
    const { stdout } = await promisify(execFile)(npm, ['run', '--silent', 'smoke', '--', ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
    });
    return { code: 0, lines: stdout.trim().split('\n') };
  } catch (err) {
    const failed = err as { code?: number; stdout?: string };
    return { code: failed.code ?? 1, lines: (failed.stdout ?? '').trim().split('\n') };
  }
}

function outcome(lines: string[], step: string): string | undefined {
  return lines.find((l) => l.split(/\s+/)[1] === step)?.split(/\s+/)[0];
}

/** Every secret a stack holds: its tokens, the gateway secret, node keys, the dev payer's key. */
async function stackSecrets(stack: StackWithState): Promise<string[]> {
  assert.ok(stack.stateDir, 'the stack file records its state folder');
  const secrets = [stack.adminToken, stack.operatorToken];
  const env = await readFile(join(stack.stateDir, 'secrets.env'), 'utf8');
  for (const line of env.split('\n')) if (line.includes('=')) secrets.push(line.slice(line.indexOf('=') + 1).trim());
  for (const entry of await readdir(join(stack.stateDir, 'keys'), { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.key')) secrets.push((await readFile(join(entry.parentPath, entry.name), 'utf8')).trim());
  }
  if (stack.chain) secrets.push(stack.chain.payerPrivateKey);
  return [...new Set(secrets.filter((s) => s.length >= 16).flatMap((s) => [s, s.replace(/^0x/, '')]))];
}

// anvil.log is left out: anvil prints the well-known private keys of its dev accounts at start.
async function assertLogsHoldNoSecret(stack: StackWithState): Promise<void> {
  assert.ok(stack.logsDir, 'the stack file records its logs folder');
  const secrets = await stackSecrets(stack);
  assert.ok(secrets.length >= 4);
  const files = (await readdir(stack.logsDir)).filter((f) => f !== 'anvil.log');
  assert.ok(files.includes('gateway.log'));
  for (const file of files) {
    const text = await readFile(join(stack.logsDir, file), 'utf8');
    for (const secret of secrets) assert.ok(!text.includes(secret), `${file} contains a secret`);
  }
  const gateway = await readFile(join(stack.logsDir, 'gateway.log'), 'utf8');
  const requests = gateway
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l['event'] === 'request');
  assert.ok(requests.length > 0, 'the gateway writes one JSON line per request');
  for (const r of requests) assert.ok(r['requestId'] && typeof r['status'] === 'number' && typeof r['latencyMs'] === 'number');
}

describe('npm run smoke', () => {
  it('passes against the shared stack: health, a free call, a paid call', { timeout: 300_000 }, async () => {
    assert.ok(shared.chain, 'the shared stack takes payments');
    const { code, lines } = await smoke(['--gateway', shared.gateway, '--expect', 'health,free,paid'], {
      PROOFGATE_PAYER_KEY: shared.chain.payerPrivateKey,
    });
    assert.equal(code, 0, lines.join('\n'));
    assert.deepEqual(
      ['health', 'free', 'paid'].map((s) => outcome(lines, s)),
      ['ok', 'ok', 'ok'],
      lines.join('\n'),
    );
    assert.equal(outcome(lines, 'intent'), 'skip');
  });

  it('fails when an expected step cannot run, and never takes a key as an argument', { timeout: 120_000 }, async () => {
    const { code, lines } = await smoke(['--gateway', shared.gateway, '--expect', 'paid']);
    assert.equal(code, 1);
    assert.equal(outcome(lines, 'paid'), 'skip', lines.join('\n'));
  });

  it('keeps secrets out of the logs, which hold one JSON line per request', { timeout: 60_000 }, async () => {
    // Traffic that carries every token: admin and operator calls, and refused ones.
    await call(`${shared.gateway}/v1/backends`, { headers: { authorization: `Bearer ${shared.adminToken}` } });
    await call(`${shared.gateway}/v1/operators/register`, {
      method: 'POST',
      headers: { authorization: `Bearer ${shared.operatorToken}` },
      body: '{}',
    });
    await call(`${shared.gateway}/v1/api-keys`, { method: 'POST', headers: { authorization: `Bearer ${shared.adminToken}x` }, body: '{}' });
    await assertLogsHoldNoSecret(shared);
  });

  it('checks an intent when operators are registered', { timeout: 600_000 }, async () => {
    const stack = await launchTestStack({ backends: 0, models: [], operatorStakes: [50n, 30n, 20n] });
    after(() => stack.stop());
    assert.ok(stack.demoPolicyId);
    const { code, lines } = await smoke([
      '--gateway',
      stack.gateway,
      '--policy-id',
      stack.demoPolicyId,
      '--chain-id',
      '31337',
      '--expect',
      'health,intent',
    ]);
    assert.equal(code, 0, lines.join('\n'));
    assert.equal(outcome(lines, 'intent'), 'ok', lines.join('\n'));
    assert.equal(outcome(lines, 'free'), 'skip', 'a gateway without models skips the free call');
    await assertLogsHoldNoSecret(stack);
  });
});
