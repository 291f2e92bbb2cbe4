import type { IRequest } from 'itty-router';
import type { z } from 'zod';
import type { Env } from '../env';
import { isAdmin } from '../http/bearer-auth';
import type { RouteRequest } from '../http/middleware';
import { jsonResponse } from '../http/problem';
import {
  listOperators,
  registerOperator,
  setOperatorStake,
  type operatorRegistrationBody,
  type operatorStakeBody,
} from '../operators/operator-registry';

/** POST /v1/operators/register: the operator token, a proof of possession and the BLS key's signature. */
export async function handleRegisterOperator(req: RouteRequest<z.infer<typeof operatorRegistrationBody>>, env: Env): Promise<Response> {
  const result = await registerOperator(env.DB, env.GATEWAY_SECRET, req.content, Date.now());
  return jsonResponse(result, result.created ? 201 : 200);
}

/** POST /v1/operators/:id/stake: sets the operator's stake weight. */
export async function handleSetOperatorStake(req: RouteRequest<z.infer<typeof operatorStakeBody>>, env: Env): Promise<Response> {
  return jsonResponse(await setOperatorStake(env.DB, decodeURIComponent(req.params['id']!), req.content, Date.now()));
}

/** GET /v1/operators: id, BLS key and its proof of possession, address, stake, status (URLs for admins only). */
export async function handleListOperators(req: IRequest, env: Env): Promise<Response> {
  const admin = isAdmin(req, env.ADMIN_TOKEN);
  const operators = (await listOperators(env.DB)).map(({ url, ...rest }) => (admin ? { ...rest, url } : rest));
  return jsonResponse({ operators });
}
