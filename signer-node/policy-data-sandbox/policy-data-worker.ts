/**
 * Worker entry: instantiates one PolicyData module with the `proofgate` host functions, calls
 * `run` on the input and posts the result text. Started by runPolicyData, never imported.
 */
import { parentPort } from 'node:worker_threads';
import { HOST_MODULE, packPointer, unpackPointer } from './abi';
import { InvalidModuleError, InvalidOutputError, MemoryLimitError, ModuleTrapError, OutputTooLargeError, PolicyDataError } from './errors';
import { WorkerBridge } from './worker-bridge';
import { MAX_LOG_CHARS, type WorkerInit, type WorkerMessage } from './worker-protocol';

// Started ahead of need (spare-workers.ts): the job arrives as the first message.
const init = await new Promise<WorkerInit>((resolve) => parentPort!.once('message', resolve));
const bridge = new WorkerBridge(init.control, init.port);

/** Exports of a module that passed validation. */
interface PolicyDataExports {
  memory: WebAssembly.Memory;
  alloc: (len: number) => number;
  run: (ptr: number, len: number) => bigint;
}

/** Node's WebAssembly.Module constructor, which the repo's Cloudflare typings declare abstract. */
const ModuleFromBytes = WebAssembly.Module as unknown as new (bytes: Uint8Array) => WebAssembly.Module;

let exports: PolicyDataExports | undefined;
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

try {
  bridge.post({ kind: 'started' });
  let module: WebAssembly.Module;
  try {
    module = new ModuleFromBytes(init.wasm);
  } catch (e) {
    throw new InvalidModuleError(`module does not compile: ${(e as Error).message}`);
  }
  const hostFunctions = {
    http_fetch: (ptr: number, len: number): bigint => writePacked(bridge.call({ kind: 'fetch', request: read(ptr, len) })),
    secrets_get: (ptr: number, len: number): bigint => writePacked(bridge.call({ kind: 'secret', name: read(ptr, len) })),
    log: (ptr: number, len: number): void => bridge.log(read(ptr, len, false, MAX_LOG_CHARS * 4)),
  };
  const instance = new WebAssembly.Instance(module, { [HOST_MODULE]: hostFunctions });
  exports = instance.exports as unknown as PolicyDataExports;
  const input = write(init.input);
  const { ptr, len } = unpackPointer(exports.run(input.ptr, input.len));
  if (len > init.maxOutputBytes) {
    throw new OutputTooLargeError(`output of ${len} bytes exceeds the limit of ${init.maxOutputBytes} bytes`);
  }
  bridge.post({ kind: 'done', output: readOutput(ptr, len) });
} catch (e) {
  bridge.post(describeFailure(e));
}
bridge.park();

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
