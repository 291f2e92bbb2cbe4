import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { maxUint256, parseAbi, type Hex } from 'viem';
import { PERMIT2_ADDRESS } from '@x402/evm';
import { connect } from '../chain/clients';
import { startLocalPayments } from '../facilitator/local-payments';
import { REPO_ROOT, demoModels, publishQuery, type DemoModel } from './demo-models';
import { deployOperatorChain, deployValidatorForOperators, launchOperators, publishDemoIntentPolicy } from './operators';
import { backendOperatorArgs } from './backend-operators';
import { ProcessGroup, type StartedProcess } from './process-group';
import type { LocalStackFile } from './stack-file';
import { freePort } from '../chain/anvil';
import { waitForHttp } from './wait-for';
import { buildExplorer } from '../explorer/build';

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
   * Operator nodes for intents, one per stake (e.g. [50n, 30n, 20n]); default none. They need the
   * chain (payments): an OperatorRegistry is deployed there with their keys and stakes, the demo
   * intent policy published and the AttestationValidator deployed.
   */
  operatorStakes?: bigint[];
  /** Extra Worker variables (e.g. X402_SETTLE_TIMEOUT_MS), over the ones the stack sets. */
  workerVars?: Record<string, string>;
  /**
   * Puts something between the Worker and the facilitator: gets the facilitator's URL, returns the
   * URL the Worker should use (tests interpose a slow link to exercise settlement timeouts).
   */
  interposeFacilitator?: (facilitatorUrl: string) => Promise<string>;
  /** Puts something between the Worker and the chain's JSON-RPC, as interposeFacilitator does for the facilitator. */
  interposeRpc?: (rpcUrl: string) => Promise<string>;
  /**
   * Runs the gateway Worker in place of `wrangler dev` (the reliability suite runs it through
   * miniflare's API, to restart the runtime and evict Durable Objects); returns how to stop it.
   */
  startGateway?: (gateway: GatewayLaunch) => Promise<{ stop(): Promise<void> }>;
  log?: (line: string) => void;
}

/** What the gateway Worker is started with: where it listens, its local state, its variables and secrets, its log. */
export interface GatewayLaunch {
  port: number;
  /** wrangler's `--persist-to` folder (local D1, R2 and Durable Object data live under its `v3/`). */
  persistTo: string;
  vars: Record<string, string>;
  /** The secrets (ADMIN_TOKEN, OPERATOR_TOKEN, GATEWAY_SECRET) as an env file. */
  envFile: string;
  logFile: string;
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
    if (chain && opts.interposeRpc) chain.vars.X402_RPC_URL = await opts.interposeRpc(chain.vars.X402_RPC_URL);
    // Operators' keys and stakes live in an OperatorRegistry on the local chain, which the gateway reads from its first task.
    const operatorChain = chain && opts.operatorStakes?.length ? await deployOperatorChain(chain.file.rpc, chain.ownerKey) : undefined;
    const workerVars = { ...chain?.vars, ...operatorChain?.workerVars, ...opts.workerVars };

    const port = opts.gatewayPort || (await freePort());
    const gateway = `http://127.0.0.1:${port}`;
    await buildExplorer(); // the explorer's scripts (wrangler.toml [assets]) are built, never committed
    log(`starting the gateway Worker in workerd at ${gateway}`);
    const gatewayLog = join(logsDir, 'gateway.log');
    const custom =
      opts.startGateway && (await opts.startGateway({ port, persistTo: persist, vars: workerVars, envFile: secrets.envFile, logFile: gatewayLog }));
    if (custom) stops.push(custom.stop);
    const worker = custom
      ? undefined
      : group.spawn(
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
            'info',
            ...Object.entries(workerVars).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
          ],
          { env, logFile: gatewayLog, cwd: REPO_ROOT },
        );
    await waitForHttp(`${gateway}/healthz`, (r) => r.status === 200, {
      timeoutMs: 180_000,
      ...(worker ? { process: worker } : {}),
      what: `the gateway (log: ${gatewayLog})`,
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
      // With operators, each backend belongs to one (quorum mode): backend i to operator (i mod N) + 1.
      const attached = await backendOperatorArgs(stateDir, i, opts.operatorStakes?.length ?? 0);
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
          ...attached.args,
        ],
        { env: { ...process.env, PROOFGATE_OPERATOR_TOKEN: secrets.operatorToken }, logFile, cwd: REPO_ROOT },
      );
      await waitForHttp(`${url}/healthz`, async (r) => r.ok && ((await r.json()) as { registered: boolean }).registered, {
        timeoutMs: 120_000,
        process: proc,
        what: `backend ${i + 1} (log: ${logFile})`,
      });
      log(`backend ${i + 1} (${address}${attached.operatorId ? `, ${attached.operatorId}'s` : ''}) registered, serving at ${url}`);
      backends.push({
        id: address.toLowerCase(),
        url,
        address,
        pid: proc.child.pid!,
        ...(attached.operatorId ? { operator: attached.operatorId } : {}),
      });
    }

    let authorization: Pick<LocalStackFile, 'operators' | 'demoPolicyId'> = {};
    if (chain && operatorChain && opts.operatorStakes?.length) {
      const operators = await launchOperators({
        gateway,
        operatorToken: secrets.operatorToken,
        chain: operatorChain,
        stateDir,
        logsDir,
        group,
        stakes: opts.operatorStakes,
        log,
      });
      const { policyId } = await publishDemoIntentPolicy(gateway, secrets.adminToken);
      log(`demo intent policy ${policyId.slice(0, 18)}… (PolicyData module "risk")`);
      authorization = { operators: operators.map(({ id, url, blsPublicKey, stake }) => ({ id, url, blsPublicKey, stake })), demoPolicyId: policyId };
      chain.file.operatorRegistry = operatorChain.registry;
      chain.file.attestationValidator = await deployValidatorForOperators(operatorChain);
      log(`OperatorRegistry ${operatorChain.registry}; AttestationValidator ${chain.file.attestationValidator} reads it`);
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
 * The local payment chain: anvil (state kept in the state folder), the pgUSD token, Permit2 and x402's
 * Permit2 proxies, the facilitator, and a funded dev payer that has approved Permit2 for pgUSD (the
 * one on-chain step Permit2 payments need); returns the Worker's x402 settings and the stack file's
 * `chain` entry.
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
    await approvePermit2(payments.anvil.rpcUrl, payer.privateKey, payments.token.address);
    log(`chain ${payments.anvil.chainId} at ${payments.anvil.rpcUrl}; pgUSD ${payments.token.address}; facilitator ${payments.facilitator.url}`);
    const vars = {
      X402_CHAIN_ID: String(payments.anvil.chainId),
      X402_ASSET: payments.token.address,
      X402_ASSET_NAME: payments.token.name,
      X402_ASSET_VERSION: payments.token.version,
      X402_PAY_TO: payTo.address,
      X402_FACILITATOR_URL: payments.facilitator.url,
      X402_RPC_URL: payments.anvil.rpcUrl,
      X402_FACILITATOR_ADDRESS: payments.facilitator.address,
    };
    const file: NonNullable<LocalStackFile['chain']> = {
      rpc: payments.anvil.rpcUrl,
      chainId: payments.anvil.chainId,
      token: payments.token.address,
      tokenName: payments.token.name,
      tokenVersion: payments.token.version,
      payTo: payTo.address,
      facilitator: payments.facilitator.url,
      facilitatorAddress: payments.facilitator.address,
      payerPrivateKey: payer.privateKey,
    };
    return { vars, file, ownerKey: payments.anvil.accounts[0]!.privateKey, stop: () => payments.stop() };
  } catch (err) {
    await payments.stop();
    throw err;
  }
}

/** Lets Permit2 move `payer`'s tokens without limit (an ERC-20 approve), unless it already may. */
export async function approvePermit2(rpcUrl: string, payerKey: Hex, token: Hex): Promise<void> {
  const { publicClient, walletClient, account } = await connect(rpcUrl, payerKey);
  const allowance = await publicClient.readContract({
    address: token,
    abi: erc20Approve,
    functionName: 'allowance',
    args: [account.address, PERMIT2_ADDRESS],
  });
  if (allowance >= maxUint256 / 2n) return;
  const hash = await walletClient.writeContract({ address: token, abi: erc20Approve, functionName: 'approve', args: [PERMIT2_ADDRESS, maxUint256] });
  const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 });
  if (receipt.status !== 'success') throw new Error(`approving Permit2 failed (${hash})`);
}

const erc20Approve = parseAbi([
  'function approve(address spender, uint256 value) returns (bool)',
  'function allowance(address owner, address spender) view returns (uint256)',
]);

/** Publishes a model file through the admin API; returns its version record. */
export async function publishModelFile(gateway: string, adminToken: string, model: DemoModel): Promise<{ version: number; sha256: string }> {
  const bytes = await readFile(model.file).catch(() => {
    throw new Error(`model file for ${model.name} not found at ${model.file} (is npm install complete?)`);
  });
  const res = await fetch(`${gateway}/v1/models/${model.name}/versions?${publishQuery(model)}`, {
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
