import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import type { Hex } from 'viem';
import { REPO_ROOT, demoModels, type DemoModel } from './demo-models';
import { ProcessGroup, type StartedProcess } from './process-group';
import type { LocalStackFile } from './stack-file';
import { freePort, waitForHttp } from './wait-for';

/** How to bring a stack up. */
export interface LaunchOptions {
  /** Folder for the stack's state: local D1/R2/DO data, keys, secrets, logs, model cache. */
  stateDir: string;
  /** Gateway port; 0 picks a free one. */
  gatewayPort?: number;
  /** Number of backend processes (CPU execution provider). */
  backends?: number;
  /** Models to publish once the gateway is up; defaults to the demo models. */
  models?: DemoModel[];
  log?: (line: string) => void;
}

/** A running stack: what the stack file records, plus a way to stop it. */
export interface LocalStack extends LocalStackFile {
  stateDir: string;
  logsDir: string;
  stop(): Promise<void>;
}

// No telemetry, no update check, no fetch of Request.cf from Cloudflare: local runs need no internet.
const WRANGLER_ENV = {
  WRANGLER_SEND_METRICS: 'false', WRANGLER_SEND_ERROR_REPORTS: 'false', WRANGLER_HIDE_BANNER: 'true', CLOUDFLARE_CF_FETCH_ENABLED: 'false', NO_COLOR: '1',
};
const WRANGLER_BIN = join(REPO_ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');

/**
 * Brings up the whole local stack: D1 migrations, the Worker in workerd (wrangler dev, with its
 * Durable Objects and local D1/R2), the models, and backend processes registered with the gateway.
 * On any failure everything started so far is stopped before the error is thrown.
 */
export async function launchLocalStack(opts: LaunchOptions): Promise<LocalStack> {
  const log = opts.log ?? (() => {});
  const stateDir = opts.stateDir;
  const logsDir = join(stateDir, 'logs');
  await mkdir(logsDir, { recursive: true });
  await mkdir(join(stateDir, 'keys'), { recursive: true, mode: 0o700 });
  const secrets = await loadOrCreateSecrets(stateDir);
  const group = new ProcessGroup();
  try {
    const env = { ...process.env, ...WRANGLER_ENV };
    const persist = join(stateDir, 'wrangler');
    log('applying D1 migrations (local)');
    const migrate = group.spawn('migrations', process.execPath, [WRANGLER_BIN, 'd1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persist], {
      env: { ...env, CI: 'true' }, logFile: join(logsDir, 'migrations.log'), cwd: REPO_ROOT,
    });
    if ((await migrate.exited) !== 0) throw new Error(`D1 migrations failed; see ${join(logsDir, 'migrations.log')}`);

    const port = opts.gatewayPort || (await freePort());
    const gateway = `http://127.0.0.1:${port}`;
    log(`starting the gateway Worker in workerd at ${gateway}`);
    const worker = group.spawn('gateway', process.execPath, [
      WRANGLER_BIN, 'dev', '--local', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(await freePort()),
      '--persist-to', persist, '--env-file', secrets.envFile, '--show-interactive-dev-session=false', '--log-level', 'warn',
    ], { env, logFile: join(logsDir, 'gateway.log'), cwd: REPO_ROOT });
    await waitForHttp(`${gateway}/healthz`, (r) => r.status === 200, { timeoutMs: 180_000, process: worker, what: `the gateway (log: ${join(logsDir, 'gateway.log')})` });

    const models: LocalStackFile['models'] = [];
    for (const model of opts.models ?? demoModels()) {
      const published = await publishModelFile(gateway, secrets.adminToken, model);
      log(`published ${model.name} v${published.version} (${published.sha256.slice(0, 18)}…, price ${model.price})`);
      models.push({ name: model.name, version: published.version, sha256: published.sha256 });
    }

    const backends: LocalStackFile['backends'] = [];
    for (let i = 0; i < (opts.backends ?? 2); i++) {
      const key = await loadOrCreateKey(join(stateDir, 'keys', `backend-${i + 1}.key`));
      const address = privateKeyToAccount(key.value).address;
      const backendPort = await freePort();
      const url = `http://127.0.0.1:${backendPort}`;
      const logFile = join(logsDir, `backend-${i + 1}.log`);
      const proc: StartedProcess = group.spawn(`backend-${i + 1}`, process.execPath, [
        '--import', 'tsx', join(REPO_ROOT, 'gpu-backend', 'main.ts'), '--gateway', gateway, '--key-file', key.file,
        '--port', String(backendPort), '--cache-dir', join(stateDir, 'model-cache'), '--provider', 'cpu',
      ], { env: { ...process.env, PROOFGATE_OPERATOR_TOKEN: secrets.operatorToken }, logFile, cwd: REPO_ROOT });
      await waitForHttp(`${url}/healthz`, async (r) => r.ok && ((await r.json()) as { registered: boolean }).registered, {
        timeoutMs: 120_000, process: proc, what: `backend ${i + 1} (log: ${logFile})`,
      });
      log(`backend ${i + 1} (${address}) registered, serving at ${url}`);
      backends.push({ id: address.toLowerCase(), url, address, pid: proc.child.pid! });
    }

    return {
      gateway, adminToken: secrets.adminToken, operatorToken: secrets.operatorToken, backends, models, stateDir, logsDir,
      stop: () => group.stopAll(),
    };
  } catch (err) {
    await group.stopAll();
    throw err;
  }
}

/** Publishes a model file through the admin API; returns its version record. */
export async function publishModelFile(gateway: string, adminToken: string, model: DemoModel): Promise<{ version: number; sha256: string }> {
  const bytes = await readFile(model.file).catch(() => {
    throw new Error(`model file for ${model.name} not found at ${model.file} (is npm install complete?)`);
  });
  const res = await fetch(`${gateway}/v1/models/${model.name}/versions?price=${model.price}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  if (!res.ok) throw new Error(`publishing ${model.name} failed: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as { version: number; sha256: string };
}

interface Secrets {
  adminToken: string;
  operatorToken: string;
  envFile: string;
}

// Secrets are made once per state folder and kept, so a restarted stack keeps its tokens and data.
async function loadOrCreateSecrets(stateDir: string): Promise<Secrets> {
  const envFile = join(stateDir, 'secrets.env');
  let text = await readFile(envFile, 'utf8').catch(() => '');
  if (!text) {
    const token = (): string => randomBytes(24).toString('base64url');
    text = `ADMIN_TOKEN=${token()}\nOPERATOR_TOKEN=${token()}\nGATEWAY_SECRET=${randomBytes(32).toString('hex')}\n`;
    await writeFile(envFile, text, { mode: 0o600 });
  }
  const values = Object.fromEntries(text.trim().split('\n').map((l) => l.split('=', 2) as [string, string]));
  return { adminToken: values['ADMIN_TOKEN']!, operatorToken: values['OPERATOR_TOKEN']!, envFile };
}

async function loadOrCreateKey(file: string): Promise<{ file: string; value: Hex }> {
  let value = (await readFile(file, 'utf8').catch(() => '')).trim() as Hex;
  if (!value) {
    value = generatePrivateKey();
    await writeFile(file, `${value}\n`, { mode: 0o600 });
  }
  await chmod(file, 0o600);
  return { file, value };
}
