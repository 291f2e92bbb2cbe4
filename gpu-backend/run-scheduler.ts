import type * as ort from 'onnxruntime-node';
import { ProofgateError } from '../core/errors';
import { ELEMENT_SIZE, type Tensor } from '../core/tensors';
import { fromOrtTensor, toOrtTensor } from './ort-tensors';
import type { SessionPool } from './session-pool';

/** Outputs of one call with where its time went (milliseconds) and how many calls shared its run. */
export interface RunResult {
  outputs: Record<string, Tensor>;
  queueMs: number;
  /** The whole run's time (shared by the batch). */
  runMs: number;
  /** This call's share of the run's time in whole milliseconds, rounded up: what its receipt signs and a metered price charges (runShareMs). */
  shareMs: number;
  batchSize: number;
}

/**
 * A call's share of a run, in whole milliseconds rounded up: the run's time in whole microseconds
 * (rounded up) × the call's rows / the run's rows. A call that ran alone gets the run's time; calls
 * batched into one run split it by the rows each stacked (the first dimension), so a batch bills
 * its callers together what it took, plus at most 1 ms each of rounding, and never the whole run to each.
 */
export function runShareMs(runMicros: number, rows: number, batchRows: number): number {
  if (!Number.isSafeInteger(runMicros * rows) || runMicros < 0 || rows < 0 || batchRows <= 0) throw new Error('run share out of range');
  const denominator = batchRows * 1000;
  return Math.floor((runMicros * rows + denominator - 1) / denominator);
}

/** onnxruntime refused the inputs (shape or value it cannot handle): the caller's error, not the backend's. */
export class ModelInputError extends ProofgateError {
  constructor() {
    super('model_rejected_input', 'the model could not run on these inputs', 422);
  }
}

/** The queue is full: the gateway should try another backend, or the caller later. */
export class BackendSaturatedError extends ProofgateError {
  constructor(retryAfterSeconds: number) {
    super('backend_saturated', 'this backend has no room in its queue; retry later or elsewhere', 503, { retryAfterSeconds });
  }
}

/** The backend is draining: it finishes what it has and takes nothing new. */
export class BackendDrainingError extends ProofgateError {
  constructor() {
    super('backend_draining', 'this backend is draining and takes no new work', 503, { retryAfterSeconds: 1 });
  }
}

/** How calls wait and are grouped: the queue bound, and dynamic batching (Triton's max batch and max queue delay). */
export interface SchedulerOptions {
  /** Most calls waiting (not running) across all models; more are refused with 503. */
  maxQueue: number;
  /** Most calls stacked into one run of a batchable model; 1 turns batching off. */
  maxBatch: number;
  /** How long the first call of a batch may wait for others to join it (microseconds). */
  maxQueueDelayUs: number;
}

/** Defaults: a queue of 64, batches of up to 8 calls gathered for at most 500 µs. */
export const DEFAULT_SCHEDULER: SchedulerOptions = { maxQueue: 64, maxBatch: 8, maxQueueDelayUs: 500 };

/** What the scheduler reports of each run (for metrics). */
export type RunObserver = (event: { sha256: string; batchSize: number; runMs: number }) => void;

interface Pending {
  inputs: Record<string, Tensor>;
  /** Inputs' types and all dims but the first: calls stack only with calls of the same key. */
  stackKey: string;
  enqueuedAt: number;
  resolve: (r: RunResult) => void;
  reject: (err: unknown) => void;
}

interface ModelQueue {
  waiting: Pending[];
  running: boolean;
}

/**
 * Runs calls on the warm sessions: one run at a time per model (onnxruntime already spreads a run
 * over the cores, and a queue makes the queue time in receipts honest), a bounded queue in front,
 * and, for models whose inputs and outputs all have a symbolic first dimension, dynamic batching:
 * calls of the same shape that are waiting together (or arrive within the delay) are stacked along
 * the first dimension into one run, and each gets back exactly its own rows of every output.
 */
export class RunScheduler {
  private readonly queues = new Map<string, ModelQueue>();
  private waiting = 0;
  private running = 0;
  private draining = false;
  private idle: (() => void)[] = [];
  private solo = 0;

  constructor(
    private readonly sessions: SessionPool,
    readonly options: SchedulerOptions,
    private readonly observe: RunObserver = () => {},
  ) {}

  /** Calls waiting for their turn. */
  queueDepth(): number {
    return this.waiting;
  }

  /** Calls waiting or running. */
  inFlight(): number {
    return this.waiting + this.running;
  }

  /** Whether a drain has begun. */
  isDraining(): boolean {
    return this.draining;
  }

  /** Queues a call; refuses at once when draining (503) or when the queue is full (503). */
  run(sha256: string, inputs: Record<string, Tensor>): Promise<RunResult> {
    if (this.draining) return Promise.reject(new BackendDrainingError());
    if (this.waiting >= this.options.maxQueue) return Promise.reject(new BackendSaturatedError(1));
    let queue = this.queues.get(sha256);
    if (!queue) {
      queue = { waiting: [], running: false };
      this.queues.set(sha256, queue);
    }
    // Calls whose inputs disagree on the first dimension never share a batch.
    const rows = new Set(Object.values(inputs).map((t) => t.dims[0]));
    const stackKey =
      rows.size > 1
        ? `solo:${++this.solo}`
        : Object.keys(inputs)
            .sort()
            .map((n) => `${n}:${inputs[n]!.type}:${inputs[n]!.dims.length}:${inputs[n]!.dims.slice(1).join('x')}`)
            .join('|');
    const result = new Promise<RunResult>((resolve, reject) => {
      queue.waiting.push({ inputs, stackKey, enqueuedAt: performance.now(), resolve, reject });
    });
    this.waiting++;
    this.pump(sha256, queue);
    return result;
  }

  /** Stops taking calls; resolves once every queued and running call has finished. */
  drain(): Promise<void> {
    this.draining = true;
    if (this.inFlight() === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private pump(sha256: string, queue: ModelQueue): void {
    if (queue.running || queue.waiting.length === 0) return;
    queue.running = true;
    this.runNext(sha256, queue)
      .catch(() => undefined)
      .finally(() => {
        queue.running = false;
        if (queue.waiting.length > 0) this.pump(sha256, queue);
        else if (this.inFlight() === 0) for (const done of this.idle.splice(0)) done();
      });
  }

  private async runNext(sha256: string, queue: ModelQueue): Promise<void> {
    let model: Awaited<ReturnType<SessionPool['load']>>;
    try {
      model = await this.sessions.load(sha256);
    } catch (err) {
      for (const p of this.take(queue, queue.waiting.length)) p.reject(err);
      return;
    }
    if (model.batchable && this.options.maxBatch > 1) await this.gather(queue);
    const first = queue.waiting[0]!;
    const limit = model.batchable ? this.options.maxBatch : 1;
    const batch: Pending[] = [];
    for (let i = 0; i < queue.waiting.length && batch.length < limit; i++) {
      if (queue.waiting[i]!.stackKey === first.stackKey) batch.push(queue.waiting[i]!);
    }
    queue.waiting = queue.waiting.filter((p) => !batch.includes(p));
    this.waiting -= batch.length;
    this.running += batch.length;
    try {
      await this.runBatch(sha256, model.session, batch);
    } finally {
      this.running -= batch.length;
    }
  }

  // Waits, up to the queue delay counted from the oldest call, for a full batch of its shape.
  private async gather(queue: ModelQueue): Promise<void> {
    const first = queue.waiting[0]!;
    const deadline = first.enqueuedAt + this.options.maxQueueDelayUs / 1000;
    for (;;) {
      const same = queue.waiting.filter((p) => p.stackKey === first.stackKey).length;
      const left = deadline - performance.now();
      if (same >= this.options.maxBatch || left <= 0) return;
      await new Promise((r) => setTimeout(r, Math.max(0, Math.min(left, 1))));
    }
  }

  private take(queue: ModelQueue, n: number): Pending[] {
    const taken = queue.waiting.splice(0, n);
    this.waiting -= taken.length;
    return taken;
  }

  private async runBatch(sha256: string, session: ort.InferenceSession, batch: Pending[]): Promise<void> {
    const started = performance.now();
    let results: ort.InferenceSession.ReturnType;
    try {
      results = await session.run(feedsOf(batch));
    } catch {
      // A batch fails as a whole; its calls are retried one by one so that only the bad one fails.
      if (batch.length > 1) {
        for (const p of batch) await this.runBatch(sha256, session, [p]);
        return;
      }
      batch[0]!.reject(new ModelInputError());
      return;
    }
    const runMs = performance.now() - started;
    this.observe({ sha256, batchSize: batch.length, runMs });
    try {
      const outputs = splitOutputs(results, batch);
      const rows = batch.map(rowsOf);
      const batchRows = rows.reduce((a, b) => a + b, 0);
      const runMicros = Math.ceil(runMs * 1000);
      for (const [i, p] of batch.entries()) {
        // A batch of calls with no rows at all (every first dimension 0) splits evenly.
        const shareMs = batchRows > 0 ? runShareMs(runMicros, rows[i]!, batchRows) : runShareMs(runMicros, 1, batch.length);
        p.resolve({ outputs: outputs[i]!, queueMs: started - p.enqueuedAt, runMs, shareMs, batchSize: batch.length });
      }
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  }
}

// One call's inputs as they are, or a batch's stacked along the first dimension.
function feedsOf(batch: Pending[]): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of Object.keys(batch[0]!.inputs)) {
    if (batch.length === 1) {
      feeds[name] = toOrtTensor(batch[0]!.inputs[name]!);
      continue;
    }
    const parts = batch.map((p) => p.inputs[name]!);
    const data = new Uint8Array(parts.reduce((n, t) => n + t.data.byteLength, 0));
    let o = 0;
    for (const t of parts) {
      data.set(t.data, o);
      o += t.data.byteLength;
    }
    const dims = [parts.reduce((n, t) => n + t.dims[0]!, 0), ...parts[0]!.dims.slice(1)];
    feeds[name] = toOrtTensor({ type: parts[0]!.type, dims, data });
  }
  return feeds;
}

// The rows a call stacks into a batch: its inputs' first dimension (1 for a call of scalars).
function rowsOf(p: Pending): number {
  return Object.values(p.inputs)[0]?.dims[0] ?? 1;
}

// Each call's rows of every output: a batch's outputs must have as many rows as its calls had.
function splitOutputs(results: ort.InferenceSession.ReturnType, batch: Pending[]): Record<string, Tensor>[] {
  const out: Record<string, Tensor>[] = batch.map(() => ({}));
  const rows = batch.map(rowsOf);
  const total = rows.reduce((a, b) => a + b, 0);
  for (const [name, value] of Object.entries(results)) {
    const t = fromOrtTensor(name, value);
    if (batch.length === 1) {
      out[0]![name] = t;
      continue;
    }
    if (t.dims[0] !== total) throw new Error(`output "${name}" has ${t.dims[0]} rows for a batch of ${total}`);
    const rowBytes = (t.dims.slice(1).reduce((a, b) => a * b, 1) as number) * ELEMENT_SIZE[t.type];
    let offset = 0;
    for (let i = 0; i < batch.length; i++) {
      const bytes = rows[i]! * rowBytes;
      out[i]![name] = { type: t.type, dims: [rows[i]!, ...t.dims.slice(1)], data: t.data.subarray(offset, offset + bytes) };
      offset += bytes;
    }
  }
  return out;
}
