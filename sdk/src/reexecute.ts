/**
 * Independent re-execution of a receipt: download the model by the receipt's sha256 (checking the
 * bytes), run it here with onnxruntime-web on the same inputs, and compare the output hash with the
 * one the backend signed. No trust in the gateway or the backend is needed beyond the receipt itself.
 */
import type { Hex } from 'viem';
import type { InferenceReceipt } from '../../core/receipts';
import {
  ELEMENT_SIZE,
  decodeTensors,
  encodeTensors,
  fromFloat16Bits,
  hashTensors,
  sha256Hex,
  type Tensor,
  type TensorType,
} from '../../core/tensors';
import { downloadModel } from './blobs';
import { toTensors, toTypedTensor, toTypedTensors, type TensorInputs, type TypedTensor } from './tensors';
import { verifyReceipt, type TensorsToCheck } from './verify-receipt';

/** The part of onnxruntime-web's API re-execution uses (pass your own import in a browser bundle). */
export interface OrtModule {
  env: { wasm: { numThreads?: number } };
  Tensor: new (type: TensorType, data: unknown, dims: readonly number[]) => OrtTensor;
  InferenceSession: { create(model: Uint8Array, options?: Record<string, unknown>): Promise<OrtSession> };
}
interface OrtTensor {
  type: string;
  dims: readonly number[];
  data: unknown;
}
interface OrtSession {
  outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

/** How close float outputs must be when they are not bit-identical: |local − claimed| ≤ atol + rtol·|claimed|. */
export interface Tolerance {
  atol: number;
  rtol: number;
}

/** Default float tolerance: wasm and native kernels may round the last bits differently (ints and bools must match exactly). */
export const DEFAULT_TOLERANCE: Tolerance = { atol: 1e-5, rtol: 1e-4 };

/** What `reExecute` takes. */
export interface ReExecuteOptions {
  /** Gateway to download the model from (by content hash: any mirror works). */
  gateway: string;
  receipt: InferenceReceipt;
  /** The inputs of the call: they must hash to the receipt's inputHash. */
  inputs: TensorsToCheck;
  /**
   * The outputs the call returned, when you have them: they must hash to the receipt's outputHash,
   * and lets float outputs that differ in the last bits match within `tolerance`.
   */
  outputs?: TensorsToCheck;
  /** Float tolerance when the local outputs are not bit-identical (default DEFAULT_TOLERANCE); `false`: bit-identical only. */
  tolerance?: Tolerance | false;
  /** The model bytes, if already at hand (still checked against the receipt's modelSha256). */
  model?: Uint8Array;
  /** onnxruntime-web's module (default: `import('onnxruntime-web')`; in Node its wasm files load from node_modules). */
  ort?: OrtModule;
  /** onnxruntime-web wasm threads (default 1). */
  numThreads?: number;
  fetch?: typeof fetch;
}

/** The outcome of a re-execution. */
export interface ReExecution {
  /** True when the local run reproduces the receipt: the same output hash, or (claimed outputs given) the same outputs within tolerance. */
  matches: boolean;
  /** The local output hash equals the receipt's. */
  exact: boolean;
  /** Hash of the outputs computed here. */
  outputHash: Hex;
  /** The output hash the backend signed. */
  receiptOutputHash: Hex;
  /** The model bytes hashed to the receipt's modelSha256. */
  modelVerified: boolean;
  /** The inputs hashed to the receipt's inputHash. */
  inputsVerified: boolean;
  /** Largest absolute difference between local and claimed float outputs (null without claimed outputs). */
  maxAbsDiff: number | null;
  /** The outputs computed here. */
  outputs: Record<string, TypedTensor>;
  /** Stable codes of what failed: input_hash_mismatch, model_hash_mismatch, output_hash_mismatch, output_differs, invalid_signature, … */
  reasons: string[];
  runtime: { name: 'onnxruntime-web'; backend: 'wasm' };
}

/** Re-executes the call a receipt describes and compares (see the module comment). */
export async function reExecute(options: ReExecuteOptions): Promise<ReExecution> {
  const { receipt } = options;
  const reasons: string[] = [];
  const signature = await verifyReceipt(receipt, { inputs: options.inputs, ...(options.outputs !== undefined ? { outputs: options.outputs } : {}) });
  reasons.push(...signature.reasons);
  const inputsVerified = !signature.reasons.includes('input_hash_mismatch') && !signature.reasons.some((r) => r.startsWith('malformed_'));
  const inputs = inputTensors(options.inputs);
  const empty = (): ReExecution => ({
    matches: false,
    exact: false,
    outputHash: '0x' as Hex,
    receiptOutputHash: receipt.outputHash,
    modelVerified: false,
    inputsVerified,
    maxAbsDiff: null,
    outputs: {},
    reasons,
    runtime: { name: 'onnxruntime-web', backend: 'wasm' },
  });
  if (!inputsVerified || !inputs) return empty(); // other inputs would prove nothing about this receipt

  let model: Uint8Array;
  try {
    model =
      options.model ?? (await downloadModel({ gateway: options.gateway, ...(options.fetch ? { fetch: options.fetch } : {}) }, receipt.modelSha256));
  } catch (err) {
    if ((err as { code?: string }).code !== 'blob_hash_mismatch') throw err;
    reasons.push('model_hash_mismatch');
    return empty();
  }
  if ((await sha256Hex(model)) !== receipt.modelSha256) {
    reasons.push('model_hash_mismatch');
    return empty();
  }

  const local = await runLocally(options.ort ?? ((await import('onnxruntime-web')) as unknown as OrtModule), model, inputs, options.numThreads ?? 1);
  const outputHash = await hashTensors(local);
  const exact = outputHash === receipt.outputHash;
  let maxAbsDiff: number | null = null;
  let within = false;
  const claimed = options.outputs !== undefined && !reasons.includes('output_hash_mismatch') ? inputTensors(options.outputs) : undefined;
  if (claimed) {
    const cmp = compare(local, claimed, options.tolerance === false ? { atol: 0, rtol: 0 } : (options.tolerance ?? DEFAULT_TOLERANCE));
    maxAbsDiff = cmp.maxAbsDiff;
    within = cmp.within;
  }
  if (!exact && !within) reasons.push('output_differs');
  return {
    matches: reasons.length === 0,
    exact,
    outputHash,
    receiptOutputHash: receipt.outputHash,
    modelVerified: true,
    inputsVerified,
    maxAbsDiff,
    outputs: toTypedTensors(local),
    reasons,
    runtime: { name: 'onnxruntime-web', backend: 'wasm' },
  };
}

function inputTensors(tensors: TensorsToCheck): Record<string, Tensor> | undefined {
  try {
    if (tensors instanceof Uint8Array) return decodeTensors(tensors);
    const values = Object.values(tensors);
    if (values.every((v) => Array.isArray((v as { data?: unknown })?.data))) {
      return decodeTensors(encodeTensors(toTensors(tensors as TensorInputs)));
    }
    return toTensors(tensors as TensorInputs);
  } catch {
    return undefined;
  }
}

async function runLocally(ort: OrtModule, model: Uint8Array, inputs: Record<string, Tensor>, numThreads: number): Promise<Record<string, Tensor>> {
  ort.env.wasm.numThreads = numThreads;
  const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'] });
  try {
    const feeds: Record<string, OrtTensor> = {};
    for (const [name, t] of Object.entries(inputs)) feeds[name] = new ort.Tensor(t.type, toTypedTensor(t).data, t.dims);
    const results = await session.run(feeds);
    const out: Record<string, Tensor> = {};
    for (const name of session.outputNames) {
      const r = results[name]!;
      const data = r.data as ArrayBufferView;
      const type = r.type as TensorType;
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
      if (bytes.length !== r.dims.reduce((n, d) => n * d, 1) * ELEMENT_SIZE[type]) throw new Error(`unexpected ${type} output "${name}"`);
      out[name] = { type, dims: [...r.dims], data: bytes };
    }
    return out;
  } finally {
    await session.release();
  }
}

// Float outputs compared element by element within the tolerance (NaN equals NaN); every other type
// and every shape must match exactly.
function compare(local: Record<string, Tensor>, claimed: Record<string, Tensor>, tol: Tolerance): { within: boolean; maxAbsDiff: number } {
  let within = Object.keys(local).length === Object.keys(claimed).length;
  let maxAbsDiff = 0;
  for (const [name, a] of Object.entries(local)) {
    const b = claimed[name];
    if (!b || a.type !== b.type || a.dims.join() !== b.dims.join()) return { within: false, maxAbsDiff: Number.POSITIVE_INFINITY };
    if (a.type !== 'float32' && a.type !== 'float16') {
      if (a.data.length !== b.data.length || a.data.some((x, i) => x !== b.data[i])) within = false;
      continue;
    }
    const x = floats(a);
    const y = floats(b);
    for (let i = 0; i < x.length; i++) {
      const xi = x[i]!;
      const yi = y[i]!;
      if (Number.isNaN(xi) && Number.isNaN(yi)) continue;
      const d = Math.abs(xi - yi);
      if (!(d <= maxAbsDiff)) maxAbsDiff = d;
      if (!(d <= tol.atol + tol.rtol * Math.abs(yi))) within = false;
    }
  }
  return { within, maxAbsDiff };
}

function floats(t: Tensor): ArrayLike<number> {
  const typed = toTypedTensor(t).data;
  if (t.type === 'float32') return typed as Float32Array;
  const bits = typed as Uint16Array;
  const out = new Float64Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = fromFloat16Bits(bits[i]!);
  return out;
}
