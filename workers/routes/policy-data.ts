import type { IRequest } from 'itty-router';
import type { Env } from '../env';
import { requireBearer } from '../http/bearer-auth';
import { jsonResponse } from '../http/problem';
import { readBodyLimited } from '../http/request-body';
import { getPolicyData, storePolicyData } from '../authorization/policy-data-store';

const MAX_POLICY_DATA_BYTES = 8 * 1024 * 1024;

/** POST /v1/policy-data (admin): stores the WebAssembly body under its sha256. */
export async function handleUploadPolicyData(req: IRequest, env: Env): Promise<Response> {
  requireBearer(req, env.ADMIN_TOKEN, 'admin');
  const result = await storePolicyData(env.DB, env.MODELS, await readBodyLimited(req, MAX_POLICY_DATA_BYTES), Date.now());
  return jsonResponse(result, result.created ? 201 : 200);
}

/** GET /v1/policy-data/:sha256: the module's bytes (what operators fetch). */
export async function handleGetPolicyData(req: IRequest, env: Env): Promise<Response> {
  const sha256 = String(req.params['sha256']).toLowerCase();
  const object = await getPolicyData(env.DB, env.MODELS, sha256);
  return new Response(object.body, {
    headers: { 'content-type': 'application/wasm', 'content-length': String(object.size), etag: `"${sha256}"`, 'cache-control': 'public, max-age=31536000, immutable' },
  });
}
