import type { IRequest } from 'itty-router';
import type { Env } from '../env';
import { jsonResponse } from '../http/problem';

/** GET /healthz: 200 once D1 answers with the schema applied, 503 otherwise. */
export async function handleHealth(_req: IRequest, env: Env): Promise<Response> {
  try {
    await env.DB.prepare('SELECT 1 FROM model_versions LIMIT 1').all();
    return jsonResponse({ ok: true });
  } catch (err) {
    return jsonResponse({ ok: false, error: { code: 'not_ready', message: String(err) } }, 503);
  }
}

/** GET /: where things are. */
export function handleIndex(): Response {
  return jsonResponse({
    name: 'Proofgate',
    endpoints: [
      'GET /healthz', 'GET /v1/models', 'GET /v1/models/{name}', 'POST /v1/models/{name}/versions?price= (admin)',
      'POST /v1/models/{name}/infer[?version=]', 'GET /v1/receipts/{requestId}', 'GET /v1/blobs/{sha256}',
      'GET /v1/backends', 'POST /v1/backends/register (operator)', 'POST /v1/backends/heartbeat',
    ],
  });
}
