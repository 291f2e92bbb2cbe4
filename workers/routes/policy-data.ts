import type { IRequest } from 'itty-router';
import type { Env } from '../env';
import type { RouteRequest } from '../http/middleware';
import { jsonResponse } from '../http/problem';
import { getPolicyData, storePolicyData } from '../intents/policy-data-store';

/** Largest PolicyData binary: a core module, or a component with its JavaScript engine inside (about 12 MiB). */
export const MAX_POLICY_DATA_BYTES = 32 * 1024 * 1024;

/** POST /v1/policy-data: stores the WebAssembly body under its sha256. */
export async function handleUploadPolicyData(req: RouteRequest, env: Env): Promise<Response> {
  const result = await storePolicyData(env.DB, env.MODELS, req.rawBody, Date.now());
  return jsonResponse(result, result.created ? 201 : 200);
}

/** GET /v1/policy-data/:sha256: the module's bytes (what signer nodes fetch). */
export async function handleGetPolicyData(req: IRequest, env: Env): Promise<Response> {
  const sha256 = String(req.params['sha256']).toLowerCase();
  const object = await getPolicyData(env.DB, env.MODELS, sha256);
  return new Response(object.body, {
    headers: {
      'content-type': 'application/wasm',
      'content-length': String(object.size),
      etag: `"${sha256}"`,
      'cache-control': 'public, max-age=31536000, immutable',
    },
  });
}
