/**
 * Worker entry: instantiates one PolicyData module with the `proofgate` host functions, calls
 * `run` on the input and posts the result text. Started by runPolicyData, never imported.
 */
import { receiveMessageOnPort, workerData } from 'node:worker_threads';
import { HOST_MODULE, packPointer, unpackPointer } from './abi';
import { InvalidModuleError, InvalidOutputError, MemoryLimitError, ModuleTrapError, OutputTooLargeError, PolicyDataError } from './errors';
import {
  CALL_ABORTED,
  CALL_ANSWERED,
  CALL_PENDING,
  MAX_LOG_CHARS,
  MAX_LOG_ENTRIES,
  type HostReply,
  type WorkerInit,
  type WorkerMessage,
} from './worker-protocol';

const init = workerData as WorkerInit;
const control = new Int32Array(init.control);
const post = (message: WorkerMessage): void => init.port.postMessage(message);

/** Exports of a module that passed validation. */
interface PolicyDataExports {
  memory: WebAssembly.Memory;
  alloc: (len: number) => number;
  run: (ptr: number, len: number) => bigint;
}

/** Node's WebAssembly.Module constructor, which the repo's Cloudflare typings declare abstract. */
const ModuleFromBytes = WebAssembly.Module as unknown as new (bytes: Uint8Array) => WebAssembly.Module;

let exports: PolicyDataExports | undefined;
let logged = 0;
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

try {
  post({ kind: 'started' });
  let module: WebAssembly.Module;
  try {
    module = new ModuleFromBytes(init.wasm);
  } catch (e) {
    throw new InvalidModuleError(`module does not compile: ${(e as Error).message}`);
  }
  const hostFunctions = {
    http_fetch: (ptr: number, len: number): bigint => writePacked(call({ kind: 'fetch', request: read(ptr, len) })),
    secrets_get: (ptr: number, len: number): bigint => writePacked(call({ kind: 'secret', name: read(ptr, len) })),
    log: (ptr: number, len: number): void => {
      if (logged++ < MAX_LOG_ENTRIES) post({ kind: 'log', message: read(ptr, len, false, MAX_LOG_CHARS * 4) });
    },
  };
  const instance = new WebAssembly.Instance(module, { [HOST_MODULE]: hostFunctions });
  exports = instance.exports as unknown as PolicyDataExports;
  const input = write(init.input);
  const { ptr, len } = unpackPointer(exports.run(input.ptr, input.len));
  if (len > init.maxOutputBytes) {
    throw new OutputTooLargeError(`output of ${len} bytes exceeds the limit of ${init.maxOutputBytes} bytes`);
  }
  post({ kind: 'done', output: readOutput(ptr, len) });
} catch (e) {
  post(describeFailure(e));
}
// Stay alive until the main thread, holding the final message, tears the worker down, so that
// message can never race the worker's exit.
Atomics.compareExchange(control, 0, CALL_ANSWERED, CALL_PENDING);
Atomics.wait(control, 0, CALL_PENDING);

/** Posts a synchronous host call and blocks until the main thread has answered it. */
function call(message: WorkerMessage): string {
  Atomics.store(control, 0, CALL_PENDING);
  post(message);
  Atomics.wait(control, 0, CALL_PENDING);
  if (Atomics.load(control, 0) === CALL_ABORTED) throw new ModuleTrapError('run aborted');
  const received = receiveMessageOnPort(init.port) as { message: HostReply } | undefined;
  if (!received) throw new ModuleTrapError('host call answered without a reply');
  return received.message.reply;
}

/** Copies UTF-8 text into memory the module allocated with its own `alloc`. */
function write(text: string): { ptr: number; len: number } {
  const bytes = new TextEncoder().encode(text);
  const ptr = loaded().alloc(bytes.length) >>> 0;
  const memory = loaded().memory.buffer; // read after alloc: growing detaches the old buffer
  if (ptr === 0 || ptr + bytes.length > memory.byteLength) {
    throw new MemoryLimitError(`module could not allocate ${bytes.length} bytes`);
  }
  new Uint8Array(memory, ptr, bytes.length).set(bytes);
  return { ptr, len: bytes.length };
}

/** write, returning the host function result `(ptr << 32) | len`. */
function writePacked(text: string): bigint {
  const { ptr, len } = write(text);
  return packPointer(ptr, len);
}

function loaded(): PolicyDataExports {
  if (!exports) throw new ModuleTrapError('host functions cannot be called from the start function');
  return exports;
}

/** Reads text the module passed to a host function, at most maxBytes of it; a bad pointer is the module's fault. */
function read(ptr: number, len: number, fatal = true, maxBytes = Infinity): string {
  const bytes = view(ptr >>> 0, len >>> 0);
  if (!bytes) throw new ModuleTrapError(`host call argument [${ptr >>> 0}, +${len >>> 0}) is outside memory`);
  try {
    const kept = bytes.subarray(0, maxBytes);
    return fatal ? strict.decode(kept) : new TextDecoder().decode(kept);
  } catch {
    throw new ModuleTrapError('host call argument is not UTF-8');
  }
}

function readOutput(ptr: number, len: number): string {
  const bytes = view(ptr, len);
  if (!bytes) throw new InvalidOutputError(`output [${ptr}, +${len}) is outside memory`);
  try {
    return strict.decode(bytes);
  } catch {
    throw new InvalidOutputError('output is not UTF-8');
  }
}

function view(ptr: number, len: number): Uint8Array | undefined {
  const memory = loaded().memory.buffer;
  return ptr + len > memory.byteLength ? undefined : new Uint8Array(memory, ptr, len);
}

function describeFailure(e: unknown): WorkerMessage {
  if (e instanceof PolicyDataError) return { kind: 'failed', code: e.code, message: e.message };
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof Error && e.name === 'LinkError') return { kind: 'failed', code: 'invalid_module', message };
  return { kind: 'failed', code: 'module_trap', message: `module trapped: ${message}` };
}
