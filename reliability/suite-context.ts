import { request } from 'node:http';
import { createPublicClient, http, parseAbi, type Address, type Hex, type LocalAccount } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { anvilDevAccounts } from '../chain/anvil';
import { tokenAt } from '../chain/token';
import type { LocalStack } from '../local-stack/launch';
import type { ReliabilityStack } from './reliability-stack';

/** What every section gets: the stack, the run's size, a log, and the secrets it made (for the log grep). */
export interface SuiteContext {
  rs: ReliabilityStack;
  stack: LocalStack;
  quick: boolean;
  log(line: string): void;
  /** Private keys the suite generated (payers): none may appear in a log. */
  generatedKeys: Hex[];
}

/** An answer as the suite records it: status, stable code (if any), the parsed body, and headers. */
export interface Answer {
  status: number;
  code: string | null;
  body: unknown;
  headers: Headers;
  /** Set when no HTTP answer came (connection refused or reset, timeout). */
  networkError?: string;
}

/**
 * The stable code of an error answer: `{error: {code}}`, the x402 402 body's `{error: "<code>"}`, or
 * the Open Inference Protocol's `{error: "<message>", code}` (the /v2 routes).
 */
export function codeOf(body: unknown): string | null {
  const error = (body as { error?: unknown } | null)?.error;
  if (typeof error === 'string' && /^[a-z0-9_]+$/.test(error)) return error;
  const top = (body as { code?: unknown } | null)?.code;
  if (typeof error === 'string' && typeof top === 'string' && /^[a-z0-9_]+$/.test(top)) return top;
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code.length > 0 ? code : null;
}

/** Sends a request and records the answer; a network failure is an answer with status 0, not a throw. */
export async function send(url: string, init: RequestInit = {}, timeoutMs = 60_000): Promise<Answer> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: kept as text
    }
    return { status: res.status, code: codeOf(body), body, headers: res.headers };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    return { status: 0, code: null, body: null, headers: new Headers(), networkError: cause ?? (err instanceof Error ? err.name : 'error') };
  }
}

/**
 * Sends a large body with node:http and reads the answer even when the server answers (413) and
 * closes before the whole body was written, which fetch reports as a network error.
 */
export function sendLarge(url: string, method: string, headers: Record<string, string>, body: Uint8Array): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request(url, { method, headers: { ...headers, 'content-length': String(body.byteLength) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON
        }
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v);
        resolve({ status: res.statusCode ?? 0, code: codeOf(parsed), body: parsed, headers: h });
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) =>
      resolve({ status: 0, code: null, body: null, headers: new Headers(), networkError: err.code ?? err.name }),
    );
    req.setTimeout(60_000, () => req.destroy());
    // A write error after the answer arrived is the server refusing the rest of the body: the answer stands.
    req.end(Buffer.from(body));
  });
}

/** A fresh payer holding `amount` pgUSD, minted by the token's owner; its key is remembered for the log grep. */
export async function newPayer(ctx: SuiteContext, amount: bigint): Promise<LocalAccount> {
  const key = generatePrivateKey();
  ctx.generatedKeys.push(key);
  const account = privateKeyToAccount(key);
  const chain = ctx.stack.chain!;
  if (amount > 0n) await tokenAt(chain.rpc, anvilDevAccounts(1)[0]!.privateKey, chain.token as Hex).mint(account.address, amount);
  return account;
}

const tokenAbi = parseAbi([
  'function balanceOf(address) view returns (uint256)',
  'function authorizationState(address authorizer, bytes32 nonce) view returns (bool)',
]);

/** Reads pgUSD balances and EIP-3009 authorization use on the stack's chain (directly, not through the suite's links). */
export function chainReader(stack: LocalStack) {
  const chain = stack.chain!;
  const client = createPublicClient({ transport: http(chain.rpc) });
  const token = chain.token as Address;
  return {
    balanceOf: (a: Address) => client.readContract({ address: token, abi: tokenAbi, functionName: 'balanceOf', args: [a] }),
    used: (payer: Address, nonce: Hex) =>
      client.readContract({ address: token, abi: tokenAbi, functionName: 'authorizationState', args: [payer, nonce] }),
  };
}

/**
 * Runs `task(i)` for i = 0…count-1 with at most `concurrency` at once, stopping early (not starting
 * more) once `deadline` (epoch ms) has passed: every request loop of the suite is bounded in count and in time.
 */
export async function bounded(count: number, concurrency: number, deadline: number, task: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  let started = 0;
  const worker = async () => {
    while (next < count && Date.now() < deadline) {
      const i = next++;
      started++;
      await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return started;
}

/** Counts of answers by "status code" (e.g. "402 payment_already_used", "0 ECONNRESET"). */
export function tally(answers: Answer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const a of answers) {
    const key = a.status === 0 ? `0 ${a.networkError}` : `${a.status}${a.code ? ` ${a.code}` : ''}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).sort());
}
