import type { IRequest } from 'itty-router';
import type { z } from 'zod';
import type { secretsRequestSchema } from '../../core/policy-data-secrets';
import type { Env } from '../env';
import type { RouteRequest } from '../http/middleware';
import { jsonResponse } from '../http/problem';
import {
  deletePolicyDataSecrets,
  deliverPolicyDataSecrets,
  getPolicyDataSecretNames,
  putPolicyDataSecrets,
  type putSecretsBody,
} from '../intents/policy-data-secrets';

function scopeOf(req: IRequest): { policyClient: string; sha256: string } {
  return { policyClient: String(req.params['policyClient']), sha256: String(req.params['sha256']) };
}

/** PUT /v1/policy-data/:sha256/secrets/:policyClient (admin): stores the policy client's secrets for that PolicyData. */
export async function handlePutPolicyDataSecrets(req: RouteRequest<z.infer<typeof putSecretsBody>>, env: Env): Promise<Response> {
  return jsonResponse(await putPolicyDataSecrets(env.DB, env.GATEWAY_SECRET, scopeOf(req), req.content.secrets, Date.now()));
}

/** GET /v1/policy-data/:sha256/secrets/:policyClient (admin): the names of the stored secrets, never their values. */
export async function handleGetPolicyDataSecretNames(req: IRequest, env: Env): Promise<Response> {
  return jsonResponse(await getPolicyDataSecretNames(env.DB, scopeOf(req)));
}

/** DELETE /v1/policy-data/:sha256/secrets/:policyClient (admin). */
export async function handleDeletePolicyDataSecrets(req: IRequest, env: Env): Promise<Response> {
  await deletePolicyDataSecrets(env.DB, scopeOf(req));
  return new Response(null, { status: 204 });
}

/** POST /v1/policy-data/secrets (an operator of the task, HMAC-authenticated): the secrets sealed to its key. */
export async function handleDeliverPolicyDataSecrets(req: RouteRequest<z.infer<typeof secretsRequestSchema>>, env: Env): Promise<Response> {
  const stores = { db: env.DB, tasks: env.TASK_QUORUM, gatewaySecret: env.GATEWAY_SECRET };
  return jsonResponse(await deliverPolicyDataSecrets(stores, req.headers, req.content, Date.now()));
}
