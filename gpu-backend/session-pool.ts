import * as ort from 'onnxruntime-node';
import { ProofgateError } from '../core/errors';
import type { Tensor } from '../core/tensors';
import type { ModelCache } from './model-cache';
import { fromOrtTensor, toOrtTensor } from './ort-tensors';

/** Outputs of one run with where the time went. */
export interface RunResult {
  outputs: Record<string, Tensor>;
  queueMs: number;
  runMs: number;
}

/** onnxruntime refused the inputs (shape or value it cannot handle): the caller's error, not the backend's. */
export class ModelInputError extends ProofgateError {
  constructor(message: string) {
    super('model_rejected_input', message, 422);
  }
}

interface Slot {
  session: Promise<ort.InferenceSession>;
  tail: Promise<unknown>;
}

/**
 * Warm onnxruntime sessions, one per model hash, created on first use and kept. Runs on one session
 * are serialized: onnxruntime already spreads one run over the cores, and a queue makes the queue
 * time in receipts honest.
 */
export class SessionPool {
  private readonly slots = new Map<string, Slot>();

  constructor(
    private readonly cache: ModelCache,
    private readonly provider: 'cuda' | 'cpu',
    private readonly threads?: number,
  ) {}

  /** Runs the model with this sha256 on `inputs`. */
  async run(sha256: string, inputs: Record<string, Tensor>): Promise<RunResult> {
    const slot = this.slot(sha256);
    const queued = performance.now();
    const turn = slot.tail.then(async () => {
      const session = await slot.session;
      const started = performance.now();
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(inputs)) feeds[name] = toOrtTensor(t);
      let results: ort.InferenceSession.ReturnType;
      try {
        results = await session.run(feeds);
      } catch (err) {
        throw new ModelInputError(err instanceof Error ? err.message.split('\n')[0]! : String(err));
      }
      const runMs = performance.now() - started;
      const outputs: Record<string, Tensor> = {};
      for (const [name, t] of Object.entries(results)) outputs[name] = fromOrtTensor(name, t);
      return { outputs, queueMs: started - queued, runMs };
    });
    slot.tail = turn.catch(() => undefined);
    return turn;
  }

  /** Closes every session. */
  async close(): Promise<void> {
    const sessions = [...this.slots.values()].map((s) => s.session.then((x) => x.release()).catch(() => undefined));
    this.slots.clear();
    await Promise.all(sessions);
  }

  private slot(sha256: string): Slot {
    let slot = this.slots.get(sha256);
    if (!slot) {
      const session = this.cache.get(sha256).then((bytes) =>
        ort.InferenceSession.create(bytes, {
          executionProviders: [this.provider],
          graphOptimizationLevel: 'all',
          ...(this.threads ? { intraOpNumThreads: this.threads } : {}),
        }),
      );
      // A model that failed to load is forgotten so the next call tries again.
      session.catch(() => this.slots.delete(sha256));
      slot = { session, tail: Promise.resolve() };
      this.slots.set(sha256, slot);
    }
    return slot;
  }
}
