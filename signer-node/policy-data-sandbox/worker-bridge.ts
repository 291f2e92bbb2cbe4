/**
 * The worker's side of the host-call channel (worker-protocol.ts), shared by the core-module and
 * the component worker: messages to the main thread, synchronous calls that block in Atomics.wait
 * until answered, bounded logs, and the final park until the main thread tears the worker down.
 */
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { ModuleTrapError } from './errors';
import { CALL_ABORTED, CALL_ANSWERED, CALL_PENDING, MAX_LOG_CHARS, MAX_LOG_ENTRIES, type HostReply, type WorkerMessage } from './worker-protocol';

/** One worker's channel to runPolicyData. */
export class WorkerBridge {
  private readonly control: Int32Array;
  private logged = 0;

  constructor(
    control: SharedArrayBuffer,
    private readonly port: MessagePort,
  ) {
    this.control = new Int32Array(control);
  }

  /** Sends a message to the main thread (logs and progress arrive in order with the final one). */
  post(message: WorkerMessage): void {
    this.port.postMessage(message);
  }

  /** Posts a synchronous host call and blocks until the main thread has answered it. */
  call(message: WorkerMessage): string {
    Atomics.store(this.control, 0, CALL_PENDING);
    this.post(message);
    Atomics.wait(this.control, 0, CALL_PENDING);
    if (Atomics.load(this.control, 0) === CALL_ABORTED) throw new ModuleTrapError('run aborted');
    const received = receiveMessageOnPort(this.port) as { message: HostReply } | undefined;
    if (!received) throw new ModuleTrapError('host call answered without a reply');
    return received.message.reply;
  }

  /** Forwards a log line; past MAX_LOG_ENTRIES lines are dropped here, so log spam cannot flood the host. */
  log(message: string): void {
    if (this.logged++ < MAX_LOG_ENTRIES) this.post({ kind: 'log', message: message.slice(0, MAX_LOG_CHARS) });
  }

  /**
   * Blocks until the main thread, holding the final message, terminates the worker, so that
   * message can never race the worker's exit.
   */
  park(): void {
    Atomics.compareExchange(this.control, 0, CALL_ANSWERED, CALL_PENDING);
    Atomics.wait(this.control, 0, CALL_PENDING);
  }
}
