import { execFile } from 'node:child_process';
import { appendFileSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Log, LogLevel, Miniflare, convertV4MiniflareOptions } from 'miniflare';
import { unstable_getMiniflareWorkerOptions } from 'wrangler';
import { REPO_ROOT } from '../local-stack/demo-models';
import type { GatewayLaunch } from '../local-stack/launch';

// The gateway Worker in workerd through miniflare's API rather than `wrangler dev`: the same bundle
// `wrangler deploy` ships, the bindings wrangler.toml declares (D1, R2, Durable Objects, rate limiter,
// assets) and the same on-disk state layout (so test/support/stored-state.ts reads it), plus what
// wrangler dev cannot do from outside: restart the runtime (workerd is killed and started again),
// evict one Durable Object, and run SQL in a Durable Object's own storage.

/** The name wrangler gives the Worker (its Durable Objects' storage folders are named after it). */
const WORKER_NAME = 'proofgate';
const WRANGLER_BIN = join(REPO_ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');

/** Durable Object classes of the gateway. */
export type DurableObjectClass = 'BackendPool' | 'NonceLedger' | 'TaskQuorum' | 'AttestationLedger' | 'InferenceQuorum';

/** A gateway runtime the suite controls. */
export interface MiniflareGateway {
  /** Kills workerd and starts it again on the same port and state (in-flight requests are cut). */
  restart(): Promise<void>;
  /** Evicts one Durable Object instance from memory, as Cloudflare does to an idle or moved object. */
  evict(className: DurableObjectClass, id: string): Promise<void>;
  /** Ids of the instances of a class that have storage. */
  objectIds(className: DurableObjectClass): Promise<string[]>;
  /** Runs SQL in one instance's own storage (starting it if it is not running). */
  sql(className: DurableObjectClass, id: string, query: string): Promise<Record<string, unknown>[]>;
  /** Keys of every object in an R2 bucket binding. */
  r2Keys(binding: 'MODELS' | 'REPLIES'): Promise<string[]>;
  /** Pids of the workerd processes running now (for memory samples). */
  runtimePids(): number[];
  stop(): Promise<void>;
}

/** Builds the Worker as `wrangler deploy` would (its [build] step included) into `outDir`. */
export async function bundleWorker(outDir: string): Promise<void> {
  await promisify(execFile)(process.execPath, [WRANGLER_BIN, 'deploy', '--dry-run', '--env=', '--outdir', outDir], {
    cwd: REPO_ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', NO_COLOR: '1', WRANGLER_HIDE_BANNER: 'true' },
    maxBuffer: 16 * 1024 * 1024,
  });
}

function readEnvFile(file: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/** Starts the bundled Worker (from `bundleDir`) under miniflare as `launch` describes. */
export async function startMiniflareGateway(launch: GatewayLaunch, bundleDir: string): Promise<MiniflareGateway> {
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(REPO_ROOT, 'wrangler.toml'));
  const { rootPath: _root, modulesRules: _rules, ...bindings } = workerOptions as typeof workerOptions & { rootPath?: string };
  const log = (line: string) => appendFileSync(launch.logFile, `${line}\n`);
  const options = convertV4MiniflareOptions({
    ...bindings,
    name: WORKER_NAME,
    modules: [
      { type: 'ESModule', path: join(bundleDir, 'index.js') },
      ...readdirSync(bundleDir)
        .filter((f) => f.endsWith('.wasm'))
        .map((f) => ({ type: 'CompiledWasm' as const, path: join(bundleDir, f) })),
    ],
    modulesRoot: bundleDir,
    bindings: { ...(workerOptions.bindings as Record<string, unknown>), ...launch.vars, ...readEnvFile(launch.envFile) },
    host: '127.0.0.1',
    port: launch.port,
    resourcePersistencePath: join(launch.persistTo, 'v3'),
    unsafeInspectDurableObjects: true,
    log: new (class extends Log {
      protected override log(message: string): void {
        log(message);
      }
    })(LogLevel.INFO),
    handleStructuredLogs: ({ message }: { message: string }) => log(message),
  } as never);
  const mf = new Miniflare(options);
  await mf.ready;
  const ownPid = process.pid;
  return {
    restart: () => mf.setOptions(options),
    evict: (className, id) => mf.unsafeEvictDurableObject(WORKER_NAME, className, { id }),
    objectIds: (className) => mf.listDurableObjectIds(className, WORKER_NAME),
    sql: async (className, id, query) => {
      const storage = await mf.unsafeGetDurableObjectStorage(WORKER_NAME, className, { id } as never);
      return (await storage.exec(query)) as Record<string, unknown>[];
    },
    r2Keys: async (binding) => {
      const bucket = await mf.getR2Bucket(binding);
      const keys: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await bucket.list({ limit: 1000, ...(cursor ? { cursor } : {}) });
        keys.push(...page.objects.map((o) => o.key));
        cursor = page.truncated ? page.cursor : undefined;
      } while (cursor);
      return keys;
    },
    runtimePids: () => childPids(ownPid).filter((pid) => commOf(pid) === 'workerd'),
    stop: () => mf.dispose(),
  };
}

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Direct children of `parent` (from /proc; Linux only). */
export function childPids(parent: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}
