import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from '../../local-stack/demo-models';

// `wrangler deploy` must ship the gateway to both environments, within the limits Cloudflare applies
// today (developers.cloudflare.com/workers/platform/limits): a Worker of at most 64 MiB, whose
// global scope parses and runs within 1 second of CPU. Startup time is the limit that bites first,
// so it is measured: `wrangler check startup` profiles the bundle's startup in a local workerd.

/** Largest Worker Cloudflare accepts. */
const WORKER_SIZE_LIMIT = 64 * 1024 * 1024;
/** Longest a Worker's global scope may take to parse and run at deploy. */
const STARTUP_LIMIT_MS = 1_000;

const WRANGLER = join(REPO_ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
const WRANGLER_ENV = {
  ...process.env,
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_HIDE_BANNER: 'true',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  NO_COLOR: '1',
};

function wrangler(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, [WRANGLER, ...args], { cwd: REPO_ROOT, env: WRANGLER_ENV, maxBuffer: 16 * 1024 * 1024 });
}

/** CPU time of a startup profile: every sample that is not idle (the program, its functions, GC). */
function activeMs(profile: { nodes: { id: number; callFrame: { functionName: string } }[]; samples: number[]; timeDeltas: number[] }): number {
  const names = new Map(profile.nodes.map((n) => [n.id, n.callFrame.functionName]));
  let micros = 0;
  profile.samples.forEach((id, i) => {
    if (names.get(id) !== '(idle)') micros += profile.timeDeltas[i] ?? 0;
  });
  return micros / 1000;
}

let out: string;
before(async () => {
  out = await mkdtemp(join(tmpdir(), 'proofgate-bundle-'));
});
after(() => rm(out, { recursive: true, force: true }));

describe('the gateway Worker bundle', () => {
  for (const env of ['staging', 'production']) {
    it(`builds with wrangler deploy --dry-run --env ${env}, within the Worker size limit`, { timeout: 180_000 }, async (t) => {
      const dir = join(out, env);
      const { stdout } = await wrangler(['deploy', '--dry-run', '--env', env, '--outdir', dir]);
      for (const binding of [
        'DB',
        'MODELS',
        'REPLIES',
        'BACKEND_POOL',
        'TASK_QUORUM',
        'ATTESTATION_LEDGER',
        'NONCE_LEDGER',
        'CALL_METRICS',
        'INTENT_RATE_LIMITER',
      ]) {
        assert.match(stdout, new RegExp(`env\\.${binding}\\b`), `${env} binds ${binding}`);
      }
      const bundle = await readFile(join(dir, 'index.js'));
      assert.ok(bundle.byteLength < WORKER_SIZE_LIMIT, `bundle is ${bundle.byteLength} bytes`);
      for (const className of ['BackendPool', 'NonceLedger', 'TaskQuorum', 'AttestationLedger']) {
        assert.match(bundle.toString('utf8'), new RegExp(`\\b${className}\\b`), `${className} is exported`);
      }
      t.diagnostic(
        `${env}: bundle ${(bundle.byteLength / 1024).toFixed(0)} KiB, gzip ${(gzipSync(bundle).byteLength / 1024).toFixed(0)} KiB (limit ${WORKER_SIZE_LIMIT / 1024 / 1024} MiB)`,
      );
    });
  }

  it('starts within the startup time limit', { timeout: 180_000 }, async (t) => {
    const outfile = join(out, 'startup.cpuprofile');
    await wrangler(['check', 'startup', '--env', 'production', '--outfile', outfile]);
    const startupMs = activeMs(JSON.parse(await readFile(outfile, 'utf8')));
    t.diagnostic(`startup: ${startupMs.toFixed(1)} ms of CPU in a local workerd (limit ${STARTUP_LIMIT_MS} ms)`);
    assert.ok(startupMs > 0, 'the profile has samples');
    assert.ok(startupMs < STARTUP_LIMIT_MS, `startup took ${startupMs} ms`);
  });
});
