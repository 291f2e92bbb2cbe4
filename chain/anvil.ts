import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { toHex, type Hex } from 'viem';
import { mnemonicToAccount } from 'viem/accounts';
import { ProofgateError } from '../core/errors';
import { proofgateDir, repoRoot } from './repo-paths';

/** Options of startAnvil. `logFile` (relative paths land under .proofgate/logs/) receives anvil's output. */
export type AnvilOptions = { port?: number; chainId?: number; blockTime?: number; stateDir?: string; logFile?: string };

/** One funded dev account of the local chain. */
export type DevAccount = { address: Hex; privateKey: Hex };

/** A running anvil node. */
export type AnvilInstance = {
  rpcUrl: string;
  chainId: number;
  accounts: DevAccount[];
  pid: number;
  stop(): Promise<void>;
};

/** anvil did not start or did not answer in time. */
export class AnvilStartError extends ProofgateError {
  constructor(message: string) {
    super('anvil_start_failed', message, 500);
  }
}

/** The mnemonic anvil derives its dev accounts from when none is given. */
export const anvilMnemonic = 'test test test test test test test test test test test junk';

const accountCount = 10;
const startTimeoutMs = 30_000;

/** Derives anvil's default dev accounts (m/44'/60'/0'/0/i of the standard test mnemonic). */
export function anvilDevAccounts(count = accountCount): DevAccount[] {
  return Array.from({ length: count }, (_, addressIndex) => {
    const account = mnemonicToAccount(anvilMnemonic, { addressIndex });
    return { address: account.address, privateKey: toHex(account.getHdKey().privateKey as Uint8Array) };
  });
}

/**
 * The anvil executable. The native binary from @foundry-rs/anvil's platform package is preferred over
 * node_modules/.bin/anvil, a Node wrapper that on SIGTERM exits without waiting for the binary, so
 * stop() could return while anvil still holds its port and is still writing its state file.
 */
export function anvilExecutable(): string {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const native = resolve(repoRoot, 'node_modules', '@foundry-rs', `anvil-${process.platform}-${arch}`, 'bin', 'anvil');
  return existsSync(native) ? native : resolve(repoRoot, 'node_modules', '.bin', 'anvil');
}

/** Binds `port` (0: any) on 127.0.0.1 and releases it, returning the port; rejects if it is taken. */
export async function freePort(port = 0): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

async function rpcChainId(rpcUrl: string): Promise<number | undefined> {
  try {
    const response = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
    });
    const body = (await response.json()) as { result?: string };
    return body.result ? Number(BigInt(body.result)) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts anvil on 127.0.0.1 (a free port unless one is given) and resolves once it answers eth_chainId.
 * It runs in its own process group, so stop() ends the binary even when only the npm wrapper was found.
 */
export async function startAnvil(opts: AnvilOptions = {}): Promise<AnvilInstance> {
  if (opts.port && opts.port > 0) {
    // Refuse a taken port up front: another node answering there would pass for ours.
    await freePort(opts.port).catch(() => {
      throw new AnvilStartError(`port ${opts.port} is already in use`);
    });
    return spawnAnvil(opts.port, opts);
  }
  // A free port can be taken by a parallel test between our probe and anvil's bind, so retry a few times.
  for (let attempt = 1; ; attempt++) {
    try {
      return await spawnAnvil(await freePort(), opts);
    } catch (error) {
      if (attempt >= 3 || !(error instanceof AnvilStartError)) throw error;
    }
  }
}

async function spawnAnvil(port: number, opts: AnvilOptions): Promise<AnvilInstance> {
  const chainId = opts.chainId ?? 31337;
  const args = ['--host', '127.0.0.1', '--port', String(port), '--chain-id', String(chainId)];
  args.push('--accounts', String(accountCount), '--mnemonic', anvilMnemonic);
  if (opts.blockTime !== undefined) args.push('--block-time', String(opts.blockTime));
  if (opts.stateDir) {
    mkdirSync(opts.stateDir, { recursive: true });
    args.push('--state', join(opts.stateDir, 'anvil-state.json'));
  }

  let logFd: number | undefined;
  if (opts.logFile) {
    const logPath = isAbsolute(opts.logFile) ? opts.logFile : resolve(proofgateDir, 'logs', opts.logFile);
    mkdirSync(dirname(logPath), { recursive: true });
    logFd = openSync(logPath, 'a');
  }
  const child = spawn(anvilExecutable(), args, {
    stdio: ['ignore', logFd ?? 'ignore', logFd ?? 'pipe'],
    detached: true,
  });
  if (logFd !== undefined) closeSync(logFd);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const pid = child.pid;
  if (pid === undefined) throw new AnvilStartError('could not spawn anvil');

  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  let running = true;
  void exited.then(() => {
    running = false;
  });
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  };
  // A test that crashes must not leave a node behind holding the port.
  const killOnExit = () => killGroup('SIGKILL');
  process.once('exit', killOnExit);

  const stop = async () => {
    process.removeListener('exit', killOnExit);
    killGroup('SIGTERM');
    if (!running) return;
    const timer = setTimeout(() => killGroup('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };

  const rpcUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (!running) {
      process.removeListener('exit', killOnExit);
      throw new AnvilStartError(`anvil exited before answering: ${stderr.trim()}`);
    }
    const answered = await rpcChainId(rpcUrl);
    if (answered === chainId) break;
    if (answered !== undefined) {
      await stop();
      throw new AnvilStartError(`port ${port} answers chain id ${answered}, expected ${chainId}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new AnvilStartError(`anvil did not answer on ${rpcUrl} within ${startTimeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { rpcUrl, chainId, accounts: anvilDevAccounts(), pid, stop };
}
