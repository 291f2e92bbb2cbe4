import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../../local-stack/demo-models';

// `npm run lint` and `npm run typecheck` are part of `npm test`, so CI fails on either.

const run = promisify(execFile);

async function check(bin: string, args: string[]): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout, stderr } = await run(join(REPO_ROOT, 'node_modules', '.bin', bin), args, { cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024 });
    return { ok: true, output: stdout + stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message };
  }
}

describe('static checks', () => {
  it('lint and format are clean (biome check)', { timeout: 300_000 }, async () => {
    const { ok, output } = await check('biome', ['check', '--max-diagnostics=50', '.']);
    assert.ok(ok, output.slice(-8000));
  });

  it('the whole tree typechecks (tsc --noEmit)', { timeout: 600_000 }, async () => {
    const { ok, output } = await check('tsc', ['--noEmit', '-p', '.']);
    assert.ok(ok, output.slice(-8000));
  });
});
