import type { IRequest } from 'itty-router';
import { InvalidRequestError, ProofgateError } from '../../core/errors';
import { isSha256Id } from '../../core/hex';
import type { Env } from '../env';
import { isPublishedSha256, listModelVersions, listModels, modelObjectKey } from '../hub/model-store';
import { runInferenceCall } from '../inference/inference-call';
import { jsonResponse } from '../http/problem';

/** GET /v1/models: the latest version of every model. */
export async function handleListModels(_req: IRequest, env: Env): Promise<Response> {
  const models = await listModels(env.DB);
  return jsonResponse({
    models: models.map((m) => ({
      name: m.name,
      latestVersion: m.version,
      sha256: m.sha256,
      size: m.size,
      price: m.price,
      settlement: m.settlement,
      pricing: m.pricing,
      ratePerMs: m.ratePerMs,
      base: m.base,
      quorum: m.quorum,
      inputs: m.inputs,
      outputs: m.outputs,
    })),
  });
}

/** GET /v1/models/:name: every version of a model. */
export async function handleGetModel(req: IRequest, env: Env): Promise<Response> {
  const name = routeParam(req, 'name');
  return jsonResponse({ name, versions: await listModelVersions(env.DB, name) });
}

/** GET /v1/blobs/:sha256: the bytes of a published model, addressed by content. */
export async function handleGetBlob(req: IRequest, env: Env): Promise<Response> {
  const sha256 = String(req.params['sha256']).toLowerCase();
  if (!isSha256Id(sha256)) throw new InvalidRequestError('invalid_sha256', 'expected 0x followed by 64 hex digits');
  const object = (await isPublishedSha256(env.DB, sha256)) ? await env.MODELS.get(modelObjectKey(sha256)) : null;
  if (!object) throw new ProofgateError('blob_not_found', `no published model has sha256 ${sha256}`, 404);
  return new Response(object.body, {
    headers: {
      'content-type': 'application/octet-stream',
      'content-length': String(object.size),
      etag: `"${sha256}"`,
      'cache-control': 'public, max-age=31536000, immutable',
    },
  });
}

/** POST /v1/models/:name/infer[?version=N]: one inference call (see inference/inference-call.ts). */
export async function handleInfer(req: IRequest, env: Env, ctx: ExecutionContext): Promise<Response> {
  return runInferenceCall(env, ctx, req, {
    name: routeParam(req, 'name'),
    version: parseVersion(new URL(req.url).searchParams.get('version')),
  });
}

/** A path parameter, percent-decoded; a malformed escape is the caller's error (400), not a URIError. */
export function routeParam(req: IRequest, name: string): string {
  try {
    return decodeURIComponent(req.params[name]!);
  } catch {
    throw new InvalidRequestError('invalid_path', `the ${name} in the path is not valid percent-encoding`);
  }
}

/** A model version as a caller writes it (absent: the latest); anything but a positive integer is a 400 `invalid_version`. */
export function parseVersion(raw: string | null): number | undefined {
  if (raw === null) return undefined;
  const v = Number(raw);
  if (!Number.isSafeInteger(v) || v < 1) throw new InvalidRequestError('invalid_version', 'version must be a positive integer');
  return v;
}
