import type { IRequest } from 'itty-router';
import type { z } from 'zod';
import type { Env } from '../env';
import {
  listBackends,
  recordDeparture,
  recordHeartbeat,
  registerBackend,
  type backendDepartureBody,
  type backendHeartbeatBody,
  type backendRegistrationBody,
} from '../backends/backend-registry';
import { poolRouter } from '../inference/pool-routing';
import { isAdmin } from '../http/bearer-auth';
import type { RouteRequest } from '../http/middleware';
import { jsonResponse } from '../http/problem';

/** POST /v1/backends/register: the operator token and the backend key's signature. */
export async function handleRegisterBackend(req: RouteRequest<z.infer<typeof backendRegistrationBody>>, env: Env): Promise<Response> {
  const registered = await registerBackend(env.DB, env.BACKEND_POOL, env.GATEWAY_SECRET, req.content, Date.now());
  poolRouter.invalidate();
  return jsonResponse(registered);
}

/** POST /v1/backends/depart: a drained backend leaves the pool (its own signature). */
export async function handleDepart(req: RouteRequest<z.infer<typeof backendDepartureBody>>, env: Env): Promise<Response> {
  await recordDeparture(env.DB, env.BACKEND_POOL, req.content, Date.now());
  poolRouter.invalidate();
  return jsonResponse({ ok: true });
}

/** POST /v1/backends/heartbeat: the backend key's signature. */
export async function handleHeartbeat(req: RouteRequest<z.infer<typeof backendHeartbeatBody>>, env: Env): Promise<Response> {
  await recordHeartbeat(env.BACKEND_POOL, req.content, Date.now());
  if (req.content.heartbeat.draining) poolRouter.invalidate();
  return jsonResponse({ ok: true });
}

/** GET /v1/backends: registered backends and their health (URLs for admins only). */
export async function handleListBackends(req: IRequest, env: Env): Promise<Response> {
  return jsonResponse({ backends: await listBackends(env.DB, env.BACKEND_POOL, isAdmin(req, env.ADMIN_TOKEN)) });
}
