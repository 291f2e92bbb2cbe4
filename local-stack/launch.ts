import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import type { Hex } from 'viem';
import { connect } from '../chain/clients';
import { startLocalPayments } from '../facilitator/local-payments';
import { REPO_ROOT, demoModels, type DemoModel } from './demo-models';
import { deployValidatorForOperators, launchOperators, publishDemoAuthorizationPolicy } from './operators';
import { ProcessGroup, type StartedProcess } from './process-group';
import type { LocalStackFile } from './stack-file';
import { freePort } from '../chain/anvil';
import { waitForHttp } from './wait-for';

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
  /** Start the local payment chain (anvil, pgUSD, facilitator) and configure x402; default true. */
  payments?: boolean;
  /**
   * Operator nodes for intents, one per stake (e.g. [50n, 30n, 20n]); default none. With operators,
   * the demo authorization policy is published and, with the chain, the AttestationValidator deployed.
   */
  operatorStakes?: bigint[];
  /** Extra Worker variables (e.g. X402_SETTLE_TIMEOUT_MS), over the ones the stack sets. */
  workerVars?: Record<string, string>;
  /**
   * Puts something between the Worker and the facilitator: gets the facilitator's URL, returns the
   * URL the Worker should use (tests interpose a slow link to exercise settlement timeouts).
   */
  interposeFacilitator?: (facilitatorUrl: string) => Promise<string>;
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
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_SEND_ERROR_REPORTS: 'false',
  WRANGLER_HIDE_BANNER: 'true',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  NO_COLOR: '1',
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
  const stops: (() => Promise<void>)[] = [];
  try {
    const env = { ...process.env, ...WRANGLER_ENV };
    const persist = join(stateDir, 'wrangler');
    log('applying D1 migrations (local)');
    const migrate = group.spawn(
      'migrations',
      process.execPath,
      [WRANGLER_BIN, 'd1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persist],
      {
        env: { ...env, CI: 'true' },
        logFile: join(logsDir, 'migrations.log'),
        cwd: REPO_ROOT,
      },
    );
    if ((await migrate.exited) !== 0) throw new Error(`D1 migrations failed; see ${join(logsDir, 'migrations.log')}`);

    const chain = opts.payments === false ? undefined : await startChain(stateDir, logsDir, log);
    if (chain) stops.push(chain.stop);
    if (chain && opts.interposeFacilitator) chain.vars.X402_FACILITATOR_URL = await opts.interposeFacilitator(chain.vars.X402_FACILITATOR_URL);
    const workerVars = { ...chain?.vars, ...opts.workerVars };

    const port = opts.gatewayPort || (await freePort());
    const gateway = `http://127.0.0.1:${port}`;
    log(`starting the gateway Worker in workerd at ${gateway}`);
    const worker = group.spawn(
      'gateway',
      process.execPath,
      [
        WRANGLER_BIN,
        'dev',
        '--local',
        '--ip',
        '127.0.0.1',
        '--port',
        String(port),
        '--inspector-port',
        String(await freePort()),
        '--persist-to',
        persist,
        '--env-file',
        secrets.envFile,
        '--show-interactive-dev-session=false',
        '--log-level',
        'warn',
        ...Object.entries(workerVars).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
      ],
      { env, logFile: join(logsDir, 'gateway.log'), cwd: REPO_ROOT },
    );
    await waitForHttp(`${gateway}/healthz`, (r) => r.status === 200, {
      timeoutMs: 180_000,
      process: worker,
      what: `the gateway (log: ${join(logsDir, 'gateway.log')})`,
    });

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
      const proc: StartedProcess = group.spawn(
        `backend-${i + 1}`,
        process.execPath,
        [
          '--import',
          'tsx',
          join(REPO_ROOT, 'gpu-backend', 'main.ts'),
          '--gateway',
          gateway,
          '--key-file',
          key.file,
          '--port',
          String(backendPort),
          '--cache-dir',
          join(stateDir, 'model-cache'),
          '--provider',
          'cpu',
        ],
        { env: { ...process.env, PROOFGATE_OPERATOR_TOKEN: secrets.operatorToken }, logFile, cwd: REPO_ROOT },
      );
      await waitForHttp(`${url}/healthz`, async (r) => r.ok && ((await r.json()) as { registered: boolean }).registered, {
        timeoutMs: 120_000,
        process: proc,
        what: `backend ${i + 1} (log: ${logFile})`,
      });
      log(`backend ${i + 1} (${address}) registered, serving at ${url}`);
      backends.push({ id: address.toLowerCase(), url, address, pid: proc.child.pid! });
    }

    let authorization: Pick<LocalStackFile, 'operators' | 'demoPolicyId'> = {};
    if (opts.operatorStakes?.length) {
      const operators = await launchOperators({
        gateway,
        adminToken: secrets.adminToken,
        operatorToken: secrets.operatorToken,
        stateDir,
        logsDir,
        group,
        stakes: opts.operatorStakes,
        log,
      });
      const { policyId } = await publishDemoAuthorizationPolicy(gateway, secrets.adminToken);
      log(`demo authorization policy ${policyId.slice(0, 18)}… (PolicyData module "risk")`);
      authorization = { operators: operators.map(({ id, url, blsPublicKey, stake }) => ({ id, url, blsPublicKey, stake })), demoPolicyId: policyId };
      if (chain) {
        chain.file.attestationValidator = await deployValidatorForOperators({ gateway, rpcUrl: chain.file.rpc, ownerKey: chain.ownerKey });
        log(`AttestationValidator ${chain.file.attestationValidator} deployed with the operators' keys and stakes`);
      }
    }

    const stop = async (): Promise<void> => {
      await group.stopAll();
      for (const s of stops.reverse()) await s();
    };
    return {
      gateway,
      adminToken: secrets.adminToken,
      operatorToken: secrets.operatorToken,
      backends,
      models,
      ...(chain ? { chain: chain.file } : {}),
      ...authorization,
      stateDir,
      logsDir,
      stop,
    };
  } catch (err) {
    await group.stopAll();
    for (const s of stops.reverse()) await s().catch(() => undefined);
    throw err;
  }
}

/** Dev accounts of the local chain by role (anvil's standard mnemonic; 0 owns pgUSD, 1 settles). */
const PAYER_ACCOUNT = 2;
const PAY_TO_ACCOUNT = 3;
/** pgUSD (6 decimals) minted to the dev payer at start: 1,000 pgUSD. */
const PAYER_FUNDS = 1_000_000_000n;

/**
 * The local payment chain: anvil (state kept in the state folder), the pgUSD token, the facilitator,
 * and a funded dev payer; returns the Worker's x402 settings and the stack file's `chain` entry.
 */
async function startChain(stateDir: string, logsDir: string, log: (line: string) => void) {
  log('starting the local chain (anvil), the pgUSD token and the x402 facilitator');
  const payments = await startLocalPayments({ stateDir: join(stateDir, 'chain'), logFile: join(logsDir, 'anvil.log') });
  try {
    const payer = payments.anvil.accounts[PAYER_ACCOUNT]!;
    const payTo = payments.anvil.accounts[PAY_TO_ACCOUNT]!;
    const { publicClient } = await connect(payments.anvil.rpcUrl, payer.privateKey);
    const balance = (await publicClient.readContract({
      address: payments.token.address,
      abi: payments.token.abi,
      functionName: 'balanceOf',
      args: [payer.address],
    })) as bigint;
    if (balance < PAYER_FUNDS / 2n) await payments.token.mint(payer.address, PAYER_FUNDS);
    log(`chain ${payments.anvil.chainId} at ${payments.anvil.rpcUrl}; pgUSD ${payments.token.address}; facilitator ${payments.facilitator.url}`);
    const vars = {
      X402_CHAIN_ID: String(payments.anvil.chainId),
      X402_ASSET: payments.token.address,
      X402_ASSET_NAME: payments.token.name,
      X402_ASSET_VERSION: payments.token.version,
      X402_PAY_TO: payTo.address,
      X402_FACILITATOR_URL: payments.facilitator.url,
      X402_RPC_URL: payments.anvil.rpcUrl,
    };
    const file: NonNullable<LocalStackFile['chain']> = {
      rpc: payments.anvil.rpcUrl,
      chainId: payments.anvil.chainId,
      token: payments.token.address,
      tokenName: payments.token.name,
      tokenVersion: payments.token.version,
      payTo: payTo.address,
      facilitator: payments.facilitator.url,
      payerPrivateKey: payer.privateKey,
    };
    return { vars, file, ownerKey: payments.anvil.accounts[0]!.privateKey, stop: () => payments.stop() };
  } catch (err) {
    await payments.stop();
    throw err;
  }
}

/** Publishes a model file through the admin API; returns its version record. */
export async function publishModelFile(gateway: string, adminToken: string, model: DemoModel): Promise<{ version: number; sha256: string }> {
  const bytes = await readFile(model.file).catch(() => {
    throw new Error(`model file for ${model.name} not found at ${model.file} (is npm install complete?)`);
  });
  const res = await fetch(`${gateway}/v1/models/${model.name}/versions?price=${model.price}&settlement=${model.settlement ?? 'sync'}`, {
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
  const values = Object.fromEntries(
    text
      .trim()
      .split('\n')
      .map((l) => l.split('=', 2) as [string, string]),
  );
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
