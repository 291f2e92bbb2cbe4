/**
 * Messages between runPolicyData (main thread) and the worker that runs the module. The worker
 * sends everything on one MessagePort, so logs arrive before the final message. For the
 * synchronous host calls it then blocks in Atomics.wait on a shared Int32 until the main thread
 * has posted the reply, which it takes with receiveMessageOnPort.
 */
import type { MessagePort } from 'node:worker_threads';

/** What the worker starts with. */
export interface WorkerInit {
  wasm: Uint8Array;
  input: string;
  maxOutputBytes: number;
  /** Int32Array over it: index 0 is the call state (CALL_PENDING, CALL_ANSWERED, CALL_ABORTED). */
  control: SharedArrayBuffer;
  port: MessagePort;
}

/** Worker to main thread. */
export type WorkerMessage =
  | { kind: 'started' }
  | { kind: 'fetch'; request: string }
  | { kind: 'secret'; name: string }
  | { kind: 'log'; message: string }
  | { kind: 'done'; output: string }
  | { kind: 'failed'; code: string; message: string };

/** Main thread to worker: the envelope answering a fetch or secret call. */
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
