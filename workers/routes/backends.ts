import type { IRequest } from 'itty-router';
import type { z } from 'zod';
import type { Env } from '../env';
import {
  listBackends,
  recordHeartbeat,
  registerBackend,
  type backendHeartbeatBody,
  type backendRegistrationBody,
} from '../backends/backend-registry';
import { isAdmin } from '../http/bearer-auth';
import type { RouteRequest } from '../http/middleware';
import { jsonResponse } from '../http/problem';

/** POST /v1/backends/register: the operator token and the backend key's signature. */
export async function handleRegisterBackend(req: RouteRequest<z.infer<typeof backendRegistrationBody>>, env: Env): Promise<Response> {
  return jsonResponse(await registerBackend(env.DB, env.BACKEND_POOL, env.GATEWAY_SECRET, req.content, Date.now()));
}

/** POST /v1/backends/heartbeat: the backend key's signature. */
export async function handleHeartbeat(req: RouteRequest<z.infer<typeof backendHeartbeatBody>>, env: Env): Promise<Response> {
  await recordHeartbeat(env.BACKEND_POOL, req.content, Date.now());
  return jsonResponse({ ok: true });
}

/** GET /v1/backends: registered backends and their health (URLs for admins only). */
export async function handleListBackends(req: IRequest, env: Env): Promise<Response> {
  return jsonResponse({ backends: await listBackends(env.DB, env.BACKEND_POOL, isAdmin(req, env.ADMIN_TOKEN)) });
}
