/**
 * Worker entry for a `newton:provider` component: loads its transpiled bindings, answers its
 * imports (Newton's http, secrets and tlsn through the host channel; WASI deterministically),
 * calls `run` on the input and posts the returned text. Started by runPolicyData, never imported.
 */
import { parentPort } from 'node:worker_threads';
import { errEnvelope } from './abi';
import { deterministicWasi } from './deterministic-wasi';
import { HostNotAllowedError, InvalidModuleError, MemoryLimitError, ModuleReportedError, OutputTooLargeError, PolicyDataError } from './errors';
import { WorkerBridge } from './worker-bridge';
import type { ComponentWorkerInit, WorkerMessage } from './worker-protocol';

/** The `instantiate` function jco transpile writes in sync instantiation mode. */
type Instantiate = (
  getCoreModule: (name: string) => WebAssembly.Module,
  imports: Record<string, Record<string, unknown>>,
  instantiateCore: (module: WebAssembly.Module, imports?: WebAssembly.Imports) => WebAssembly.Instance,
) => { run(input: string): string };

/** A WIT `result` as jco's bindings take it from an import. */
type Result<T> = { tag: 'ok'; val: T } | { tag: 'err'; val: string };

/** Newton's http-request and http-response records, as jco lifts and lowers them. */
interface NewtonHttpRequest {
  url: string;
  method: string;
  headers: [string, string][];
  body?: Uint8Array | number[] | null;
}
interface NewtonHttpResponse {
  status: number;
  headers: [string, string][];
  body: Uint8Array;
}

// Started ahead of need (spare-workers.ts): the job arrives as the first message.
const init = await new Promise<ComponentWorkerInit>((resolve) => parentPort!.once('message', resolve));
const bridge = new WorkerBridge(init.control, init.port);
const memories: WebAssembly.Memory[] = [];
const utf8 = new TextEncoder();
const strict = new TextDecoder('utf-8', { fatal: true });

try {
  const { instantiate } = (await import(init.moduleUrl)) as { instantiate: Instantiate };
  bridge.post({ kind: 'started' });
  const imports = {
    ...deterministicWasi({ nowUnixSeconds: init.nowUnixSeconds, seed: init.seed, log: (line) => bridge.log(line) }),
    'newton:provider/http': { fetch: httpFetch },
    'newton:provider/secrets': { get: getSecrets },
    'newton:provider/tlsn': { verify: tlsnUnavailable, verifyFromCid: tlsnUnavailable },
  };
  const component = instantiate(coreModule, imports, (module, importObject) => {
    const instance = new WebAssembly.Instance(module, importObject);
    for (const value of Object.values(instance.exports)) if (value instanceof WebAssembly.Memory) memories.push(value);
    return instance;
  });
  const output = component.run(init.input);
  const size = utf8.encode(output).length;
  if (size > init.maxOutputBytes) throw new OutputTooLargeError(`output of ${size} bytes exceeds the limit of ${init.maxOutputBytes} bytes`);
  bridge.post({ kind: 'done', output });
} catch (e) {
  bridge.post(describeFailure(e));
}
bridge.park();

function coreModule(name: string): WebAssembly.Module {
  const module = init.coreModules[name];
  if (!module) throw new InvalidModuleError(`the transpiled component asks for core module ${name}, which it did not produce`);
  return module;
}

/**
 * newton:provider/http.fetch through the host's allow-listed, recorded HTTP. Bodies cross as
 * UTF-8 text (the host records text); a host outside the allow-list stops the run.
 */
function httpFetch(request: NewtonHttpRequest): Result<NewtonHttpResponse> {
  let body: string | undefined;
  try {
    body = request.body == null ? undefined : strict.decode(Uint8Array.from(request.body));
  } catch {
    return { tag: 'err', val: 'invalid_request: request bodies must be UTF-8 text' };
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of request.headers) {
    const key = name.toLowerCase();
    headers[key] = key in headers ? `${headers[key]}, ${value}` : value;
  }
  const reply = parseEnvelope(
    bridge.call({ kind: 'fetch', request: JSON.stringify({ url: request.url, method: request.method.toUpperCase(), headers, body }) }),
  );
  if ('err' in reply) {
    if (reply.err.startsWith('host_not_allowed:'))
      throw new HostNotAllowedError(`stopped: the component fetched ${hostOf(request.url)}, which is not among the operator's allowed hosts`);
    return { tag: 'err', val: reply.err };
  }
  const response = reply.ok as { status: number; headers: Record<string, string>; body: string };
  return { tag: 'ok', val: { status: response.status, headers: Object.entries(response.headers), body: utf8.encode(response.body) } };
}

/** newton:provider/secrets.get: the policy client's secrets for this PolicyData as one JSON object. */
function getSecrets(): Result<{ value: Uint8Array }> {
  const reply = parseEnvelope(bridge.call({ kind: 'secrets' }));
  return 'err' in reply ? { tag: 'err', val: reply.err } : { tag: 'ok', val: { value: utf8.encode(JSON.stringify(reply.ok)) } };
}

function tlsnUnavailable(): Result<never> {
  return { tag: 'err', val: JSON.parse(errEnvelope('tlsn_unavailable', 'TLSNotary presentations are not verified by Proofgate operators yet')).err };
}

function parseEnvelope(text: string): { ok: unknown } | { err: string } {
  return JSON.parse(text) as { ok: unknown } | { err: string };
}

function describeFailure(e: unknown): WorkerMessage {
  if (e instanceof PolicyDataError) return { kind: 'failed', code: e.code, message: e.message };
  // `run` returned err(message): jco throws the message itself.
  const message = typeof e === 'string' ? e : e instanceof Error ? e.message : String(e);
  // Out of memory shows as a trap or as SpiderMonkey's own "out of memory" error, whichever the guest
  // hit first, once a grow no longer fits: the memory then sits at, or one allocator chunk below, the cap.
  if (memories.some((m) => m.buffer.byteLength * 16 >= init.maxMemoryPages * 65_536 * 15)) {
    const error = new MemoryLimitError(`the component reached its memory limit of ${init.maxMemoryPages} pages (${message})`);
    return { kind: 'failed', code: error.code, message: error.message };
  }
  if (typeof e === 'string') return { kind: 'failed', code: new ModuleReportedError(e).code, message: e };
  if (e instanceof Error && e.name === 'LinkError') return { kind: 'failed', code: 'invalid_module', message };
  return { kind: 'failed', code: 'module_trap', message: `component trapped: ${message}` };
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url.slice(0, 256);
  }
}
