import { MessageChannel } from 'node:worker_threads';
import { canonicalJson } from '../../core/canonical-json';
import { ComponentCache } from './component-cache';
import {
  InvalidModuleError,
  InvalidOutputError,
  MemoryLimitError,
  ModuleReportedError,
  ModuleTrapError,
  PolicyDataError,
  PolicyDataTimeoutError,
  policyDataErrorFromCode,
} from './errors';
import { HostCalls, networkFetch, type HttpCall, type PolicyDataFetch, type PolicyDataSecrets } from './host-calls';
import { policyDataBinaryKind, type PolicyDataBinaryKind } from './binary-kind';
import type { NewtonWorldVersion } from './newton-world';
import { prestartWorker, takeWorker } from './spare-workers';
import { validatePolicyDataModule } from './validate-module';
import {
  CALL_ABORTED,
  CALL_ANSWERED,
  type ComponentWorkerInit,
  type HostReply,
  type WorkerChannel,
  type WorkerInit,
  type WorkerMessage,
} from './worker-protocol';

/** Capabilities and limits of one run; every field has a safe default (no secrets, no network). */
export interface RunPolicyDataOptions {
  /**
   * Secrets the module may read (core modules one by one with secrets_get, components all at once
   * with secrets.get), or a loader called on the first read; values are redacted from logs and recordings.
   * Default: none stored.
   */
  secrets?: PolicyDataSecrets;
  /** How allowed requests are sent; defaults to the network (no redirects followed). */
  fetch?: PolicyDataFetch;
  /** Hosts http_fetch may reach: `host:port`, or `hostname` for any port. Default: none. */
  allowedHosts?: readonly string[];
  /** Wall-clock budget from instantiation to result, host calls included. Default 2000. */
  timeoutMs?: number;
  /** Largest declared memory maximum accepted, in 64 KiB pages. Default 256 (16 MiB). */
  maxMemoryPages?: number;
  /** Largest result accepted, in bytes. Default 1 MiB. */
  maxOutputBytes?: number;
  /** Most http_fetch calls per run. Default 16. */
  maxHttpCalls?: number;
  /** Largest HTTP response body, in bytes. Default 1 MiB. */
  maxHttpResponseBytes?: number;
  /** Largest module binary, in bytes. Default 8 MiB. */
  maxModuleBytes?: number;
  /** Largest component binary, in bytes (a JavaScript engine is inside). Default 32 MiB. */
  maxComponentBytes?: number;
  /** Memory cap written into a component's core modules, in 64 KiB pages. Default 1024 (64 MiB). */
  maxComponentMemoryPages?: number;
  /** Where components are transpiled and kept. Default: one cache under the OS temp dir. */
  components?: ComponentCache;
  /** The task's clock (Unix seconds) and random seed that components see. Default 0 and 32 zero bytes. */
  context?: { nowUnixSeconds: number; seed: Uint8Array };
}

/** What a successful run produced. */
export interface PolicyDataResult {
  /**
   * The module's output: a core module's `ok` value (the policy sees it as `data.wasm.<name>`) or
   * a component's returned JSON object (merged into `data.wasm`, as Newton does).
   */
  output: unknown;
  /** What ran: a core module (ABI v1) or a component, with its `newton:provider` version (null: it imports none). */
  kind: PolicyDataBinaryKind;
  world?: NewtonWorldVersion | null;
  /** Every http_fetch in order, with its response or error: the run's recorded network I/O. */
  httpCalls: HttpCall[];
  /** Messages the module passed to `log` (at most 100, redacted). */
  logs: string[];
  /** Wall-clock time of the run, worker start included; informative, not deterministic. */
  durationMs: number;
}

const DEFAULTS = {
  timeoutMs: 2000,
  maxMemoryPages: 256,
  maxOutputBytes: 1 << 20,
  maxHttpCalls: 16,
  maxHttpResponseBytes: 1 << 20,
  maxModuleBytes: 8 << 20,
  maxComponentBytes: 32 << 20,
  maxComponentMemoryPages: 1024,
};

const defaultComponents = new ComponentCache();

/** Bound on starting the worker (loading its code), which is not charged to the module's timeout. */
const WORKER_START_TIMEOUT_MS = 15_000;

const WORKER_URL = new URL('./policy-data-worker.ts', import.meta.url);
const COMPONENT_WORKER_URL = new URL('./component-worker.ts', import.meta.url);

/** Starts the workers of the next core-module and component runs now, so no run waits for one. */
export function prestartPolicyDataWorkers(): void {
  prestartWorker(WORKER_URL);
  prestartWorker(COMPONENT_WORKER_URL);
}

/**
 * Validates a PolicyData module or component, then runs it on `input` (passed as canonical JSON)
 * in a worker thread with heap limits and a wall-clock timeout that terminates the worker. Throws a
 * PolicyDataError subclass; errors after the start carry the HTTP calls made so far.
 */
export async function runPolicyData(wasmBytes: Uint8Array, input: unknown, opts: RunPolicyDataOptions = {}): Promise<PolicyDataResult> {
  const limits = {
    timeoutMs: opts.timeoutMs ?? DEFAULTS.timeoutMs,
    maxMemoryPages: opts.maxMemoryPages ?? DEFAULTS.maxMemoryPages,
    maxOutputBytes: opts.maxOutputBytes ?? DEFAULTS.maxOutputBytes,
    maxHttpCalls: opts.maxHttpCalls ?? DEFAULTS.maxHttpCalls,
    maxHttpResponseBytes: opts.maxHttpResponseBytes ?? DEFAULTS.maxHttpResponseBytes,
    maxModuleBytes: opts.maxModuleBytes ?? DEFAULTS.maxModuleBytes,
  };
  let kind: PolicyDataBinaryKind = 'core-module';
  try {
    kind = policyDataBinaryKind(wasmBytes);
  } catch {
    // Not a recognised header: the core-module validator explains what is wrong.
  }
  let start: (host: HostCalls) => Promise<{ text: string; world?: NewtonWorldVersion | null }>;
  if (kind === 'component') {
    const maxBytes = opts.maxComponentBytes ?? DEFAULTS.maxComponentBytes;
    if (wasmBytes.length > maxBytes) throw new InvalidModuleError(`component of ${wasmBytes.length} bytes exceeds the limit of ${maxBytes} bytes`);
    const prepared = await (opts.components ?? defaultComponents).prepare(
      wasmBytes,
      opts.maxComponentMemoryPages ?? DEFAULTS.maxComponentMemoryPages,
    );
    const init: Omit<ComponentWorkerInit, keyof WorkerChannel> = {
      moduleUrl: prepared.moduleUrl,
      coreModules: prepared.coreModules,
      maxMemoryPages: prepared.maxMemoryPages,
      input: canonicalJson(input),
      maxOutputBytes: limits.maxOutputBytes,
      nowUnixSeconds: opts.context?.nowUnixSeconds ?? 0,
      seed: opts.context?.seed ?? new Uint8Array(32),
    };
    start = async (host) => ({ text: await runInWorker(COMPONENT_WORKER_URL, init, limits.timeoutMs, host), world: prepared.world.version });
  } else {
    validatePolicyDataModule(wasmBytes, limits);
    const init = { wasm: wasmBytes, input: canonicalJson(input), maxOutputBytes: limits.maxOutputBytes };
    start = async (host) => ({ text: await runInWorker(WORKER_URL, init, limits.timeoutMs, host) });
  }
  const abort = new AbortController();
  const host = new HostCalls({
    secrets: opts.secrets ?? (async () => undefined),
    fetch: opts.fetch ?? networkFetch(limits.maxHttpResponseBytes),
    allowedHosts: opts.allowedHosts ?? [],
    maxHttpCalls: limits.maxHttpCalls,
    maxHttpResponseBytes: limits.maxHttpResponseBytes,
    signal: abort.signal,
  });
  const started = performance.now();
  try {
    const { text, world } = await start(host);
    const output = kind === 'component' ? parseComponentOutput(text) : parseResult(text, host);
    const result: PolicyDataResult = { output, kind, httpCalls: host.httpCalls, logs: host.logs, durationMs: performance.now() - started };
    if (world !== undefined) result.world = world;
    return result;
  } catch (e) {
    if (e instanceof PolicyDataError) {
      e.httpCalls = host.httpCalls;
      if (e.code === 'module_error' || e.code === 'host_not_allowed') e.message = host.redact(e.message);
    }
    throw e;
  } finally {
    abort.abort();
  }
}

/** Runs a worker to its final message; answers its host calls meanwhile. Resolves with the result text. */
function runInWorker(
  url: URL,
  init: Omit<WorkerInit, keyof WorkerChannel> | Omit<ComponentWorkerInit, keyof WorkerChannel>,
  timeoutMs: number,
  host: HostCalls,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const control = new Int32Array(new SharedArrayBuffer(4));
    const { port1, port2 } = new MessageChannel();
    const worker = takeWorker(url);
    worker.postMessage({ ...init, control: control.buffer as SharedArrayBuffer, port: port2 }, [port2]);
    let settled = false;
    let timer = setTimeout(() => settle(new PolicyDataTimeoutError(WORKER_START_TIMEOUT_MS)), WORKER_START_TIMEOUT_MS);

    function settle(error: PolicyDataError | undefined, output = ''): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // Wake the worker if it is blocked in a host call, then stop it whatever it is doing.
      Atomics.store(control, 0, CALL_ABORTED);
      Atomics.notify(control, 0);
      port1.close();
      void worker.terminate();
      if (error) reject(error);
      else resolve(output);
    }

    function answer(reply: string): void {
      if (settled) return;
      port1.postMessage({ reply } satisfies HostReply);
      Atomics.store(control, 0, CALL_ANSWERED);
      Atomics.notify(control, 0);
    }

    port1.on('message', (message: WorkerMessage) => {
      switch (message.kind) {
        case 'started':
          clearTimeout(timer);
          timer = setTimeout(() => settle(new PolicyDataTimeoutError(timeoutMs)), timeoutMs);
          break;
        case 'fetch':
          void host.httpFetch(message.request).then(answer);
          break;
        case 'secret':
          void host.secret(message.name).then(answer);
          break;
        case 'secrets':
          void host.allSecrets().then(answer);
          break;
        case 'log':
          host.log(message.message);
          break;
        case 'done':
          settle(undefined, message.output);
          break;
        case 'failed':
          settle(policyDataErrorFromCode(message.code, message.message));
          break;
      }
    });
    worker.on('error', (e: Error & { code?: string }) => {
      settle(
        e.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? new MemoryLimitError('PolicyData worker exceeded its heap limit')
          : new ModuleTrapError(`PolicyData worker failed: ${e.message}`),
      );
    });
    worker.on('exit', (code) => settle(new ModuleTrapError(`PolicyData worker exited with code ${code} before a result`)));
  });
}

/**
 * A component's `run` result: Newton's host parses it as JSON and merges it into `data.wasm`, so
 * it must be a JSON object.
 */
function parseComponentOutput(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvalidOutputError('the component returned text that is not JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidOutputError('a component must return a JSON object (it is merged into data.wasm)');
  }
  return value as Record<string, unknown>;
}

/** Unwraps `{"ok": value}`; `{"err": message}` becomes ModuleReportedError (secrets redacted). */
function parseResult(text: string, host: HostCalls): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvalidOutputError('output is not JSON');
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const envelope = value as { ok?: unknown; err?: unknown };
    if (keys.length === 1 && keys[0] === 'ok') return envelope.ok;
    if (keys.length === 1 && keys[0] === 'err' && typeof envelope.err === 'string') {
      throw new ModuleReportedError(host.redact(envelope.err));
    }
  }
  throw new InvalidOutputError('output must be {"ok": value} or {"err": string}');
}
