import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../../local-stack/demo-models';

// `wrangler deploy` must be able to ship the gateway: the Worker bundles (no Node-only import
// anywhere in its graph) and fits Cloudflare's compressed size limit (3 MiB on the free plan).

describe('the gateway Worker bundle', () => {
  it('builds with wrangler deploy --dry-run and stays under 3 MiB gzipped', { timeout: 120_000 }, async () => {
    const out = await mkdtemp(join(tmpdir(), 'proofgate-bundle-'));
    try {
      await promisify(execFile)(
        process.execPath,
        [join(REPO_ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js'), 'deploy', '--dry-run', '--outdir', out],
        {
          cwd: REPO_ROOT,
          env: { ...process.env, WRANGLER_SEND_METRICS: 'false', WRANGLER_HIDE_BANNER: 'true' },
        },
      );
      const bundle = await readFile(join(out, 'index.js'));
      const gzipped = gzipSync(bundle).byteLength;
      assert.ok(gzipped < 3 * 1024 * 1024, `bundle is ${gzipped} bytes gzipped`);
      for (const className of ['BackendPool', 'NonceLedger', 'TaskQuorum', 'AttestationLedger']) {
        assert.match(bundle.toString('utf8'), new RegExp(`\\b${className}\\b`), `${className} is exported`);
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
