import { dirname, join } from 'node:path';
import { freePort } from '../chain/anvil';
import { REPO_ROOT } from '../local-stack/demo-models';
import type { ProcessGroup } from '../local-stack/process-group';
import { waitForHttp } from '../local-stack/wait-for';

/**
 * Starts a bench-only Worker (`wrangler dev --local` on one of bench/'s wrangler.toml files) in the
 * group, and resolves with its URL once it answers. The group stops it.
 */
export async function startBenchWorker(group: ProcessGroup, name: string, config: string): Promise<string> {
  const port = await freePort();
  const proc = group.spawn(
    name,
    process.execPath,
    [
      join(REPO_ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js'),
      'dev',
      '--local',
      '--config',
      join(REPO_ROOT, config),
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--inspector-port',
      String(await freePort()),
      '--show-interactive-dev-session=false',
    ],
    {
      // A [build] command runs `node`: put this Node (22) first on PATH.
      env: {
        ...process.env,
        PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
        WRANGLER_SEND_METRICS: 'false',
        WRANGLER_HIDE_BANNER: 'true',
        CLOUDFLARE_CF_FETCH_ENABLED: 'false',
      },
      logFile: join(REPO_ROOT, '.proofgate', `bench-${name}.log`),
      cwd: REPO_ROOT,
    },
  );
  const url = `http://127.0.0.1:${port}/`;
  await waitForHttp(url, (r) => r.status !== 502 && r.status !== 503, { timeoutMs: 90_000, process: proc, what: `the bench Worker ${name}` });
  return url;
}
