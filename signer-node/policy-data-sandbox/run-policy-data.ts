import { MessageChannel, Worker } from 'node:worker_threads';
import { canonicalJson } from '../../core/canonical-json';
import {
  InvalidOutputError,
  MemoryLimitError,
  ModuleReportedError,
  ModuleTrapError,
  PolicyDataError,
  PolicyDataTimeoutError,
  policyDataErrorFromCode,
} from './errors';
import { HostCalls, networkFetch, type HttpCall, type PolicyDataFetch } from './host-calls';
import { validatePolicyDataModule } from './validate-module';
import { CALL_ABORTED, CALL_ANSWERED, type HostReply, type WorkerInit, type WorkerMessage } from './worker-protocol';

/** Capabilities and limits of one run; every field has a safe default (no secrets, no network). */
export interface RunPolicyDataOptions {
  /** Secrets the module may read with secrets_get; their values are redacted from logs and recordings. */
  secrets?: Readonly<Record<string, string>>;
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
}

/** What a successful run produced. */
export interface PolicyDataResult {
  /** The `ok` value of the module's result: becomes `data.wasm.<name>` for the policy. */
  output: unknown;
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
};

/** Bound on starting the worker (loading its code), which is not charged to the module's timeout. */
const WORKER_START_TIMEOUT_MS = 15_000;

/** V8 heap limits of the worker; module memory is bounded separately by its declared maximum. */
const RESOURCE_LIMITS = { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16, codeRangeSizeMb: 64, stackSizeMb: 4 };

const WORKER_URL = new URL('./policy-data-worker.ts', import.meta.url);

/**
 * Validates a PolicyData module, then runs it on `input` (passed as canonical JSON) in a worker
 * thread with heap limits and a wall-clock timeout that terminates the worker. Throws a
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
  validatePolicyDataModule(wasmBytes, limits);
  const inputJson = canonicalJson(input);
  const abort = new AbortController();
  const host = new HostCalls({
    secrets: opts.secrets ?? {},
    fetch: opts.fetch ?? networkFetch(limits.maxHttpResponseBytes),
    allowedHosts: opts.allowedHosts ?? [],
    maxHttpCalls: limits.maxHttpCalls,
    maxHttpResponseBytes: limits.maxHttpResponseBytes,
    signal: abort.signal,
  });
  const started = performance.now();
  try {
    const text = await runInWorker({ wasm: wasmBytes, input: inputJson, maxOutputBytes: limits.maxOutputBytes }, limits.timeoutMs, host);
    const output = parseResult(text, host);
    return { output, httpCalls: host.httpCalls, logs: host.logs, durationMs: performance.now() - started };
  } catch (e) {
    if (e instanceof PolicyDataError) e.httpCalls = host.httpCalls;
    throw e;
  } finally {
    abort.abort();
  }
}

/** Runs the worker to its final message; answers its host calls meanwhile. Resolves with the result text. */
function runInWorker(init: Omit<WorkerInit, 'control' | 'port'>, timeoutMs: number, host: HostCalls): Promise<string> {
  return new Promise((resolve, reject) => {
    const control = new Int32Array(new SharedArrayBuffer(4));
    const { port1, port2 } = new MessageChannel();
    const workerData: WorkerInit = { ...init, control: control.buffer as SharedArrayBuffer, port: port2 };
    const worker = new Worker(WORKER_URL, { workerData, transferList: [port2], resourceLimits: RESOURCE_LIMITS });
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
          answer(host.secret(message.name));
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
