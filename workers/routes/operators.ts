import type { IRequest } from 'itty-router';
import type { Env } from '../env';
import { isAdmin, requireBearer } from '../http/bearer-auth';
import { jsonResponse } from '../http/problem';
import { readJsonBody } from '../http/request-body';
import { listOperators, registerOperator, setOperatorStake } from '../authorization/operator-registry';

const MAX_MESSAGE_BYTES = 16 * 1024;

/** POST /v1/operators/register (operator token + proof of possession + the BLS key's signature). */
export async function handleRegisterOperator(req: IRequest, env: Env): Promise<Response> {
  requireBearer(req, env.OPERATOR_TOKEN, 'operator');
  const result = await registerOperator(env.DB, env.GATEWAY_SECRET, await readJsonBody(req, MAX_MESSAGE_BYTES), Date.now());
  return jsonResponse(result, result.created ? 201 : 200);
}

/** POST /v1/operators/:id/stake (admin): sets the operator's stake weight. */
export async function handleSetOperatorStake(req: IRequest, env: Env): Promise<Response> {
  requireBearer(req, env.ADMIN_TOKEN, 'admin');
  const id = decodeURIComponent(req.params['id']!);
  return jsonResponse(await setOperatorStake(env.DB, id, await readJsonBody(req, MAX_MESSAGE_BYTES), Date.now()));
}

/** GET /v1/operators: id, BLS key and its proof of possession, address, stake, status (URLs for admins only). */
export async function handleListOperators(req: IRequest, env: Env): Promise<Response> {
  const admin = isAdmin(req, env.ADMIN_TOKEN);
  const operators = (await listOperators(env.DB)).map(({ url, ...rest }) => (admin ? { ...rest, url } : rest));
  return jsonResponse({ operators });
}
