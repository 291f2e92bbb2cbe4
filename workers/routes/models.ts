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
import { resolveCaller } from '../callers/api-keys';
import { dispatchInference } from '../inference/dispatch-inference';
import { admissionHeaders, checkAdmission, compiledPolicies } from '../policies/admission';
import { claimedPayer, openPayment, type PaidCall } from '../payments/pay-per-call';
import { getPolicy, modelPolicyId } from '../policies/policy-store';
import { storeReceipt } from '../inference/receipt-store';
import {
  checkPrice, checkSettlement, getModelVersion, isPublishedSha256, listModelVersions, listModels, modelObjectKey, publishModel,
} from '../hub/model-store';

const DEFAULT_MAX_BODY = 32 * 1024 * 1024;

const DEFAULT_MAX_MODEL = 100 * 1024 * 1024;

/** GET /v1/models: the latest version of every model. */
export async function handleListModels(_req: IRequest, env: Env): Promise<Response> {
  const models = await listModels(env.DB);
  return jsonResponse({
    models: models.map((m) => ({ name: m.name, latestVersion: m.version, sha256: m.sha256, size: m.size, price: m.price, settlement: m.settlement, inputs: m.inputs, outputs: m.outputs })),
  });
}

/** GET /v1/models/:name: every version of a model. */
export async function handleGetModel(req: IRequest, env: Env): Promise<Response> {
  const name = decodeURIComponent(req.params['name']!);
  return jsonResponse({ name, versions: await listModelVersions(env.DB, name) });
}

/** POST /v1/models/:name/versions?price=N&settlement=sync|async (admin): publishes the ONNX body as a new version. */
export async function handlePublishModel(req: IRequest, env: Env): Promise<Response> {
  requireBearer(req, env.ADMIN_TOKEN, 'admin');
  const name = decodeURIComponent(req.params['name']!);
  const query = new URL(req.url).searchParams;
  const price = checkPrice(query.get('price'));
  const settlement = checkSettlement(query.get('settlement'));
  const bytes = await readBodyLimited(req, byteLimit(env.MAX_MODEL_BYTES, DEFAULT_MAX_MODEL));
  const { model, created } = await publishModel(env.DB, env.MODELS, name, bytes, price, settlement, Date.now());
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

/**
 * POST /v1/models/:name/infer[?version=N]: admitted by the model's policy, inputs validated, paid
 * (x402) when priced, dispatched, receipt-checked, and only then charged.
 */
export async function handleInfer(req: IRequest, env: Env): Promise<Response> {
  const name = decodeURIComponent(req.params['name']!);
  // Independent D1 reads, issued together (the model version, its policy binding, the API key);
  // their errors are reported in that order, so the same bad request always gets the same answer.
  const reads = await Promise.allSettled([
    getModelVersion(env.DB, name, parseVersion(new URL(req.url).searchParams.get('version'))),
    modelPolicyId(env.DB, name),
    resolveCaller(env.DB, req),
  ] as const);
  for (const r of reads) if (r.status === 'rejected') throw r.reason;
  const [model, policyId, keyCaller] = reads.map((r) => (r as PromiseFulfilledResult<unknown>).value) as [
    Awaited<ReturnType<typeof getModelVersion>>, Awaited<ReturnType<typeof modelPolicyId>>, Awaited<ReturnType<typeof resolveCaller>>,
  ];
  const nowMs = Date.now();
  const paid = model.price !== '0';
  const caller = (paid ? claimedPayer(req.headers) : null) ?? keyCaller;
  if (policyId) {
    checkAdmission(compiledPolicies.get(await getPolicy(env.DB, policyId)), {
      caller, model: model.name, version: model.version, price: model.price, method: req.method, path: new URL(req.url).pathname,
      headers: admissionHeaders(req.headers), time: new Date(nowMs).toISOString(),
    }, nowMs);
  }
  const body = await readBodyLimited(req, byteLimit(env.MAX_BODY_BYTES, DEFAULT_MAX_BODY));
  const inputs = parseInputs(req.headers.get('content-type'), body);
  checkInputs(inputs, model.inputs);
  const inputBytes = encodeTensors(inputs);
  const inputHash = await sha256Hex(inputBytes);

  let payment: PaidCall | null = null;
  if (paid) {
    const gate = await openPayment(env, req, model, await sha256Hex(new TextEncoder().encode(`${model.sha256}:${inputHash}`)), nowMs);
    if (gate.kind === 'respond') return gate.response;
    payment = gate.call;
  }
  let result;
  try {
    result = await dispatchInference({ pool: env.BACKEND_POOL, gatewaySecret: env.GATEWAY_SECRET, model, inputBytes, inputHash });
  } catch (err) {
    await payment?.release(err instanceof Error ? err.message : String(err));
    throw err;
  }
  await storeReceipt(env.DB, result.receipt, Date.now());
  const reply = { model: { name: model.name, version: model.version, sha256: model.sha256 }, outputs: tensorMapToJson(result.outputs), receipt: result.receipt };
  return payment ? payment.finish(result.receipt.requestId, reply) : jsonResponse(reply);
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
