/**
 * Messages between runPolicyData (main thread) and the worker that runs the module. The worker
 * sends everything on one MessagePort, so logs arrive before the final message. For the
 * synchronous host calls it then blocks in Atomics.wait on a shared Int32 until the main thread
 * has posted the reply, which it takes with receiveMessageOnPort.
 */
import type { MessagePort } from 'node:worker_threads';

/** What every worker starts with: the channel to the main thread. */
export interface WorkerChannel {
  /** Int32Array over it: index 0 is the call state (CALL_PENDING, CALL_ANSWERED, CALL_ABORTED). */
  control: SharedArrayBuffer;
  port: MessagePort;
}

/** What the core-module worker (policy-data-worker.ts) starts with. */
export interface WorkerInit extends WorkerChannel {
  wasm: Uint8Array;
  input: string;
  maxOutputBytes: number;
}

/** What the component worker (component-worker.ts) starts with. */
export interface ComponentWorkerInit extends WorkerChannel {
  /** file: URL of the transpiled component (an ES module exporting `instantiate`). */
  moduleUrl: string;
  /** Its compiled core modules, by the file names the transpiled code asks for. */
  coreModules: Record<string, WebAssembly.Module>;
  /** The component's memory cap in pages: a failure at the cap is reported as memory_limit. */
  maxMemoryPages: number;
  input: string;
  maxOutputBytes: number;
  /** The task's clock (Unix seconds) and random seed, so every operator runs the same. */
  nowUnixSeconds: number;
  seed: Uint8Array;
}

/** Worker to main thread. */
export type WorkerMessage =
  | { kind: 'started' }
  | { kind: 'fetch'; request: string }
  | { kind: 'secret'; name: string }
  | { kind: 'secrets' }
  | { kind: 'log'; message: string }
  | { kind: 'done'; output: string }
  | { kind: 'failed'; code: string; message: string };

/** Main thread to worker: the envelope answering a fetch, secret or secrets call. */
export interface HostReply {
  reply: string;
}

export const CALL_PENDING = 0;
export const CALL_ANSWERED = 1;
/** Set when the run is being torn down (timeout), so a blocked worker wakes and stops. */
export const CALL_ABORTED = 2;

/** Module logs kept per run: later ones are dropped in the worker, so log spam cannot flood the host. */
export const MAX_LOG_ENTRIES = 100;
/** Longest log message kept, in UTF-16 code units. */
export const MAX_LOG_CHARS = 1024;
