import type { IRequest } from 'itty-router';
import type { z } from 'zod';
import type { OperatorRegistry } from '../../core/attestation';
import type { Env } from '../env';
import { isAdmin } from '../http/bearer-auth';
import type { RouteRequest } from '../http/middleware';
import { jsonResponse } from '../http/problem';
import { listOperators, registerOperator, type operatorRegistrationBody } from '../operators/operator-registry';
import { configuredRegistryChain } from '../operators/registry-snapshots';

/** POST /v1/operators/register: the operator token, a proof of possession and the BLS key's signature. */
export async function handleRegisterOperator(req: RouteRequest<z.infer<typeof operatorRegistrationBody>>, env: Env): Promise<Response> {
  const result = await registerOperator(env.DB, env.GATEWAY_SECRET, req.content, Date.now());
  return jsonResponse(result, result.created ? 201 : 200);
}

/**
 * GET /v1/operators: the OperatorRegistry's members at the latest block (id, BLS key, stake) and the
 * signer nodes registered here (proof of possession, address; URLs for admins only); `registry` is
 * null where the gateway has none configured.
 */
export async function handleListOperators(req: IRequest, env: Env): Promise<Response> {
  const admin = isAdmin(req, env.ADMIN_TOKEN);
  // Without a registry configured there are no members: the registered nodes are listed at stake 0.
  const registry: OperatorRegistry | null = (await configuredRegistryChain(env)?.latest()) ?? null;
  const operators = (await listOperators(env.DB, registry)).map((o) => {
    if (!o.node || admin) return o;
    const { url: _url, ...node } = o.node;
    return { ...o, node };
  });
  return jsonResponse({ registry: registry && { address: registry.address, blockNumber: registry.blockNumber }, operators });
}
