import type { IRequest } from 'itty-router';
import type { Env } from '../env';
import { isAdmin, requireBearer } from '../http/bearer-auth';
import { jsonResponse } from '../http/problem';
import { readJsonBody } from '../http/request-body';
import { listBackends, recordHeartbeat, registerBackend } from '../backends/backend-registry';

const MAX_MESSAGE_BYTES = 16 * 1024;

/** POST /v1/backends/register (operator token + the backend key's signature). */
export async function handleRegisterBackend(req: IRequest, env: Env): Promise<Response> {
  requireBearer(req, env.OPERATOR_TOKEN, 'operator');
  const body = await readJsonBody(req, MAX_MESSAGE_BYTES);
  return jsonResponse(await registerBackend(env.DB, env.BACKEND_POOL, env.GATEWAY_SECRET, body, Date.now()));
}

/** POST /v1/backends/heartbeat (the backend key's signature). */
export async function handleHeartbeat(req: IRequest, env: Env): Promise<Response> {
  await recordHeartbeat(env.BACKEND_POOL, await readJsonBody(req, MAX_MESSAGE_BYTES), Date.now());
  return jsonResponse({ ok: true });
}

/** GET /v1/backends: registered backends and their health (URLs for admins only). */
export async function handleListBackends(req: IRequest, env: Env): Promise<Response> {
  return jsonResponse({ backends: await listBackends(env.DB, env.BACKEND_POOL, isAdmin(req, env.ADMIN_TOKEN)) });
}
