import type { BackendPool } from '../../../durable-objects/backend-pool';
import { ModelNotFoundError, listModelVersions, listModels, type ModelVersion } from '../../hub/model-store';
import { metadataTensor } from './datatypes';
import { poolRouter } from '../pool-routing';

// The Open Inference Protocol's health and metadata (KServe v2 REST "Health", "Server Metadata",
// "Model Metadata"), read from the model hub and this isolate's view of the backend pool.

/** The protocol's platform name of every model here: ONNX run by onnxruntime (Triton's name for it). */
export const KSERVE_PLATFORM = 'onnxruntime_onnx';

/**
 * Extensions this server speaks (Server Metadata `extensions`): Triton's binary tensor data, and
 * Proofgate's own: receipts in response parameters and headers, x402 payment of priced models.
 */
export const KSERVE_EXTENSIONS = ['binary_tensor_data', 'proofgate_receipts', 'x402_payments'] as const;

/** The protocol's `$metadata_model_response`. */
export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: { name: string; datatype: string; shape: number[] }[];
  outputs: { name: string; datatype: string; shape: number[] }[];
}

/** A model version and every version of its model, oldest first (404 `model_not_found` when either is not in the hub). */
export async function modelVersions(
  db: D1Database,
  name: string,
  version: number | undefined,
): Promise<{ model: ModelVersion; all: ModelVersion[] }> {
  const all = (await listModelVersions(db, name)).reverse();
  const model = version === undefined ? all.at(-1) : all.find((v) => v.version === version);
  if (!model) throw new ModelNotFoundError(name, version);
  return { model, all };
}

/** Model Metadata: the version asked for (the latest when none is), with every version there is, as strings. */
export async function modelMetadata(db: D1Database, name: string, version: number | undefined): Promise<ModelMetadata> {
  const { model, all } = await modelVersions(db, name, version);
  return {
    name: model.name,
    versions: all.map((v) => String(v.version)),
    platform: KSERVE_PLATFORM,
    inputs: model.inputs.map(metadataTensor),
    outputs: model.outputs.map(metadataTensor),
  };
}

/** Where readiness is read from: the pool and the Worker's means of refreshing its view of it. */
export interface PoolView {
  pool: DurableObjectNamespace<BackendPool>;
  waitUntil: (p: Promise<unknown>) => void;
}

/** Model Ready: whether a healthy backend could take a call for this model version now. */
export async function modelReady(view: PoolView, model: ModelVersion, nowMs: number): Promise<boolean> {
  await poolRouter.ready(view.pool, view.waitUntil, nowMs);
  return poolRouter.serves(model.sha256, nowMs);
}

/**
 * Server Ready, "all the models are ready for inferencing": the hub answers, and the latest version
 * of every model has a healthy backend to take it. A hub or pool that cannot be read is not ready.
 */
export async function serverReady(db: D1Database, view: PoolView, nowMs: number): Promise<{ ready: boolean; waiting: string[] }> {
  try {
    const [models] = await Promise.all([listModels(db), poolRouter.ready(view.pool, view.waitUntil, nowMs)]);
    const waiting = models.filter((m) => !poolRouter.serves(m.sha256, nowMs)).map((m) => m.name);
    return { ready: waiting.length === 0, waiting };
  } catch {
    return { ready: false, waiting: [] };
  }
}
