import type { IRequest } from 'itty-router';
import { InvalidRequestError, ProofgateError } from '../../core/errors';
import { checkInputs } from '../../core/onnx';
import {
  TENSORS_MEDIA_TYPE, decodeTensors, encodeTensors, sha256Hex, tensorMapFromJson, tensorMapToJson, type Tensor,
} from '../../core/tensors';
import type { Env } from '../env';
import { requireBearer } from '../http/bearer-auth';
import { jsonResponse } from '../http/problem';
import { byteLimit, readBodyLimited } from '../http/request-body';
import { dispatchInference } from '../inference/dispatch-inference';
import { storeReceipt } from '../inference/receipt-store';
import {
  checkPrice, getModelVersion, isPublishedSha256, listModelVersions, listModels, modelObjectKey, publishModel,
} from '../hub/model-store';

const DEFAULT_MAX_BODY = 32 * 1024 * 1024;
const DEFAULT_MAX_MODEL = 100 * 1024 * 1024;

/** GET /v1/models: the latest version of every model. */
export async function handleListModels(_req: IRequest, env: Env): Promise<Response> {
  const models = await listModels(env.DB);
  return jsonResponse({
    models: models.map((m) => ({ name: m.name, latestVersion: m.version, sha256: m.sha256, size: m.size, price: m.price, inputs: m.inputs, outputs: m.outputs })),
  });
}

/** GET /v1/models/:name: every version of a model. */
export async function handleGetModel(req: IRequest, env: Env): Promise<Response> {
  const name = decodeURIComponent(req.params['name']!);
  return jsonResponse({ name, versions: await listModelVersions(env.DB, name) });
}

/** POST /v1/models/:name/versions?price=N (admin): publishes the ONNX body as a new version. */
export async function handlePublishModel(req: IRequest, env: Env): Promise<Response> {
  requireBearer(req, env.ADMIN_TOKEN, 'admin');
  const name = decodeURIComponent(req.params['name']!);
  const price = checkPrice(new URL(req.url).searchParams.get('price'));
  const bytes = await readBodyLimited(req, byteLimit(env.MAX_MODEL_BYTES, DEFAULT_MAX_MODEL));
  const { model, created } = await publishModel(env.DB, env.MODELS, name, bytes, price, Date.now());
  return jsonResponse({ ...model, created }, created ? 201 : 200);
}

/** GET /v1/blobs/:sha256: the bytes of a published model, addressed by content. */
export async function handleGetBlob(req: IRequest, env: Env): Promise<Response> {
  const sha256 = String(req.params['sha256']).toLowerCase();
  if (!/^0x[0-9a-f]{64}$/.test(sha256)) throw new InvalidRequestError('invalid_sha256', 'expected 0x followed by 64 hex digits');
  const object = (await isPublishedSha256(env.DB, sha256)) ? await env.MODELS.get(modelObjectKey(sha256)) : null;
  if (!object) throw new ProofgateError('blob_not_found', `no published model has sha256 ${sha256}`, 404);
  return new Response(object.body, {
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(object.size), etag: `"${sha256}"`, 'cache-control': 'public, max-age=31536000, immutable' },
  });
}

/** POST /v1/models/:name/infer[?version=N]: validated, dispatched, receipt-checked inference. */
export async function handleInfer(req: IRequest, env: Env): Promise<Response> {
  const name = decodeURIComponent(req.params['name']!);
  const model = await getModelVersion(env.DB, name, parseVersion(new URL(req.url).searchParams.get('version')));
  if (model.price !== '0') {
    // Payments arrive with x402 support; until then a priced model is never served for free.
    throw new ProofgateError('payment_required', `model "${name}" costs ${model.price} per call and this gateway has no payment scheme configured`, 402);
  }
  const body = await readBodyLimited(req, byteLimit(env.MAX_BODY_BYTES, DEFAULT_MAX_BODY));
  const inputs = parseInputs(req.headers.get('content-type'), body);
  checkInputs(inputs, model.inputs);
  const inputBytes = encodeTensors(inputs);
  const inputHash = await sha256Hex(inputBytes);
  const result = await dispatchInference({ pool: env.BACKEND_POOL, gatewaySecret: env.GATEWAY_SECRET, model, inputBytes, inputHash });
  await storeReceipt(env.DB, result.receipt, Date.now());
  return jsonResponse({ model: { name: model.name, version: model.version, sha256: model.sha256 }, outputs: tensorMapToJson(result.outputs), receipt: result.receipt });
}

function parseVersion(raw: string | null): number | undefined {
  if (raw === null) return undefined;
  const v = Number(raw);
  if (!Number.isSafeInteger(v) || v < 1) throw new InvalidRequestError('invalid_version', 'version must be a positive integer');
  return v;
}

function parseInputs(contentType: string | null, body: Uint8Array): Record<string, Tensor> {
  if (contentType?.startsWith(TENSORS_MEDIA_TYPE)) return decodeTensors(body);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new InvalidRequestError('invalid_json', 'request body is not valid JSON');
  }
  if (typeof json !== 'object' || json === null || !('inputs' in json)) {
    throw new InvalidRequestError('invalid_request', 'body must be {"inputs": {"<name>": {"type", "dims", "data"}}}');
  }
  return tensorMapFromJson((json as { inputs: unknown }).inputs);
}
