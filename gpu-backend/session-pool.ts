import * as ort from 'onnxruntime-node';
import { readModelSignature } from '../core/onnx';
import type { ModelCache } from './model-cache';

/** How onnxruntime runs on this backend: provider and the threads it may take from the machine. */
export interface RuntimeOptions {
  provider: 'cuda' | 'cpu';
  /** Threads one run may use inside an operator (0: onnxruntime's default, one per physical core). */
  intraOpThreads: number;
  /** Threads for running independent operators in parallel (0 or 1: operators run one after another). */
  interOpThreads: number;
  /** Whether idle onnxruntime threads spin waiting for work (lower latency, but they burn the CPU other processes need). */
  spinWait: boolean;
}

/** onnxruntime's own defaults, except that idle threads do not spin (backends often share a machine). */
export const DEFAULT_RUNTIME: Omit<RuntimeOptions, 'provider'> = { intraOpThreads: 0, interOpThreads: 0, spinWait: false };

/** A warm session and what the backend knows about its model. */
export interface LoadedModel {
  session: ort.InferenceSession;
  /** Every input and output has a symbolic first dimension: calls can be stacked into one batch. */
  batchable: boolean;
}

/** The session options a backend opens every model with. */
export function sessionOptions(runtime: RuntimeOptions): ort.InferenceSession.SessionOptions {
  const spin = runtime.spinWait ? '1' : '0';
  return {
    executionProviders: [runtime.provider],
    graphOptimizationLevel: 'all',
    ...(runtime.intraOpThreads > 0 ? { intraOpNumThreads: runtime.intraOpThreads } : {}),
    ...(runtime.interOpThreads > 1 ? { interOpNumThreads: runtime.interOpThreads, executionMode: 'parallel' as const } : {}),
    extra: { session: { intra_op: { allow_spinning: spin }, inter_op: { allow_spinning: spin } } },
  };
}

/** Warm onnxruntime sessions, one per model hash, created on first use and kept. */
export class SessionPool {
  private readonly models = new Map<string, Promise<LoadedModel>>();

  constructor(
    private readonly cache: ModelCache,
    readonly runtime: RuntimeOptions,
  ) {}

  /** The loaded model with this sha256 (fetched and opened on first use). */
  load(sha256: string): Promise<LoadedModel> {
    let model = this.models.get(sha256);
    if (!model) {
      model = this.cache.get(sha256).then(async (bytes) => {
        const signature = readModelSignature(bytes);
        const batchable = [...signature.inputs, ...signature.outputs].every((s) => s.dims !== null && s.dims.length > 0 && s.dims[0] === null);
        return { session: await ort.InferenceSession.create(bytes, sessionOptions(this.runtime)), batchable };
      });
      // A model that failed to load is forgotten so the next call tries again.
      model.catch(() => this.models.delete(sha256));
      this.models.set(sha256, model);
    }
    return model;
  }

  /** Closes every session. */
  async close(): Promise<void> {
    const open = [...this.models.values()].map((m) => m.then((x) => x.session.release()).catch(() => undefined));
    this.models.clear();
    await Promise.all(open);
  }
}
