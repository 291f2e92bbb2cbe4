/**
 * Where the CLI's gateway, tokens and payer come from, in this order: flags, environment variables,
 * then the local stack file that `npm start` writes (.proofgate/local-stack.json), so that every
 * command works against a local stack with no flags at all.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Address, Hex, LocalAccount } from 'viem';
import type { LocalStackFile } from '../local-stack/stack-file';
import type { ClientOptions, GatewayOptions, ProofgateClient } from '../sdk/src/index';

// The SDK (and viem) load only when a command runs, so that --help answers at once.

/** The global options every command sees. */
export interface GlobalOptions {
  gateway?: string;
  stackFile: string;
  adminToken?: string;
  operatorToken?: string;
  apiKey?: string;
  json?: boolean;
}

/** A usage mistake: printed with the command's help hint, exit code 2. */
export class UsageError extends Error {
  readonly code = 'usage';
}

/** The options of the root program, from any subcommand. */
export function globals(command: Command): GlobalOptions {
  let root = command;
  while (root.parent) root = root.parent;
  return root.opts<GlobalOptions>();
}

let stackCache: { path: string; stack: LocalStackFile | null } | undefined;

/** The local stack file, or null when there is none. */
export function stackFile(g: GlobalOptions): LocalStackFile | null {
  const path = resolve(g.stackFile);
  if (stackCache?.path !== path) {
    let stack: LocalStackFile | null = null;
    try {
      stack = JSON.parse(readFileSync(path, 'utf8')) as LocalStackFile;
    } catch {
      stack = null;
    }
    stackCache = { path, stack };
  }
  return stackCache.stack;
}

/** The gateway and whatever credentials are configured. */
export function gatewayOptions(g: GlobalOptions): GatewayOptions {
  const stack = stackFile(g);
  const gateway = g.gateway ?? process.env['PROOFGATE_GATEWAY'] ?? stack?.gateway;
  if (!gateway) throw new UsageError('no gateway: pass --gateway URL, set PROOFGATE_GATEWAY, or start the local stack (npm start)');
  const adminToken = g.adminToken ?? process.env['PROOFGATE_ADMIN_TOKEN'] ?? (sameGateway(stack, gateway) ? stack?.adminToken : undefined);
  const operatorToken =
    g.operatorToken ?? process.env['PROOFGATE_OPERATOR_TOKEN'] ?? (sameGateway(stack, gateway) ? stack?.operatorToken : undefined);
  const apiKey = g.apiKey ?? process.env['PROOFGATE_API_KEY'];
  return { gateway, ...(adminToken ? { adminToken } : {}), ...(operatorToken ? { operatorToken } : {}), ...(apiKey ? { apiKey } : {}) };
}

function sameGateway(stack: LocalStackFile | null, gateway: string): boolean {
  return !!stack && stack.gateway.replace(/\/+$/, '') === gateway.replace(/\/+$/, '');
}

/** What a paying command takes: who pays and at most how much. */
export interface PayerOptions {
  keyFile?: string;
  maxPrice?: string;
}

/**
 * The paying account: `--key-file`, else PROOFGATE_PAYER_KEY, else the local stack's dev payer (a
 * funded test key, only for the stack's own gateway). Null when none is configured.
 */
export async function payer(
  g: GlobalOptions,
  p: PayerOptions,
): Promise<{ account: LocalAccount; asset?: Address; network?: `${string}:${string}` } | null> {
  const stack = stackFile(g);
  const raw = p.keyFile ? readFileSync(p.keyFile, 'utf8').trim() : (process.env['PROOFGATE_PAYER_KEY'] ?? '').trim();
  const local = stack?.chain && sameGateway(stack, gatewayOptions(g).gateway) ? stack.chain : undefined;
  const key = raw || local?.payerPrivateKey;
  if (!key) return null;
  if (!/^0x[0-9a-fA-F]{64}$/.test(key)) throw new UsageError('the payer key must be 0x followed by 64 hex digits');
  const { privateKeyToAccount } = await import('viem/accounts');
  return {
    account: privateKeyToAccount(key as Hex),
    ...(local ? { asset: local.token as Address, network: `eip155:${local.chainId}` as const } : {}),
  };
}

/**
 * The account of a key read from `file`, else from the environment variable `envVar` (keys never go
 * on a command line), or null when neither is set.
 */
export async function accountOf(file: string | undefined, envVar: string): Promise<LocalAccount | null> {
  const key = (file ? readFileSync(file, 'utf8') : (process.env[envVar] ?? '')).trim();
  if (!key) return null;
  if (!/^0x[0-9a-fA-F]{64}$/.test(key)) throw new UsageError(`the key ${file ? `in ${file}` : `in ${envVar}`} must be 0x followed by 64 hex digits`);
  const { privateKeyToAccount } = await import('viem/accounts');
  return privateKeyToAccount(key as Hex);
}

/** An SDK client for the configured gateway, paying when a payer and a max price are configured. */
export async function client(g: GlobalOptions, p: PayerOptions = {}): Promise<ProofgateClient> {
  const options: ClientOptions = { ...gatewayOptions(g) };
  const who = await payer(g, p);
  const maxPrice = p.maxPrice ?? process.env['PROOFGATE_MAX_PRICE'];
  if (who) {
    options.account = who.account;
    if (who.asset && who.network) options.payment = { asset: who.asset, network: who.network };
  }
  if (maxPrice !== undefined) {
    if (!/^(0|[1-9][0-9]*)$/.test(maxPrice)) throw new UsageError('--max-price is an integer number of token units');
    options.maxPrice = maxPrice;
  }
  const { createClient } = await import('../sdk/src/index');
  return createClient(options);
}
