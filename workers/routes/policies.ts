import type { IRequest } from 'itty-router';
import { InvalidRequestError } from '../../core/errors';
import type { Env } from '../env';
import { createApiKey } from '../callers/api-keys';
import { requireBearer } from '../http/bearer-auth';
import { jsonResponse } from '../http/problem';
import { readJsonBody } from '../http/request-body';
import { compiledPolicies, evaluateRule } from '../policies/admission';
import { bindModelPolicy, createPolicy, getPolicy, unbindModelPolicy } from '../policies/policy-store';

const MAX_POLICY_BYTES = 1024 * 1024;

/** POST /v1/policies (admin): stores a compiled-checked Rego policy; its id is its content hash. */
export async function handleCreatePolicy(req: IRequest, env: Env): Promise<Response> {
  requireBearer(req, env.ADMIN_TOKEN, 'admin');
  const { policy, created } = await createPolicy(env.DB, await readJsonBody(req, MAX_POLICY_BYTES), Date.now());
  return jsonResponse({ ...policy, created }, created ? 201 : 200);
}

/** GET /v1/policies/:id */
export async function handleGetPolicy(req: IRequest, env: Env): Promise<Response> {
  return jsonResponse(await getPolicy(env.DB, String(req.params['id'])));
}

/**
 * POST /v1/policies/:id/evaluate (admin) `{"input", "rule"?, "time"?}`: evaluates a rule of the policy
 * (default `<entrypoint>.allow`) in this Worker, for dry runs and for checking that every runtime agrees.
 */
export async function handleEvaluatePolicy(req: IRequest, env: Env): Promise<Response> {
  requireBearer(req, env.ADMIN_TOKEN, 'admin');
  const body = (await readJsonBody(req, MAX_POLICY_BYTES)) as { input?: unknown; rule?: unknown; time?: unknown } | null;
  const policy = await getPolicy(env.DB, String(req.params['id']));
  const rule = body?.rule ?? `${policy.entrypoint}.allow`;
  if (typeof rule !== 'string' || !/^data(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(rule)) throw new InvalidRequestError('invalid_request', 'rule must be a path such as data.pkg.allow');
  const nowMs = typeof body?.time === 'string' ? Date.parse(body.time) : Date.now();
  if (!Number.isFinite(nowMs)) throw new InvalidRequestError('invalid_request', 'time must be RFC 3339');
  const value = evaluateRule(compiledPolicies.get(policy), rule, body?.input, nowMs);
  return jsonResponse(value === undefined ? { rule, defined: false } : { rule, defined: true, value });
}

/** PUT /v1/models/:name/policy (admin) `{"policyId"}`: every call to the model is admitted by that policy. */
export async function handleBindModelPolicy(req: IRequest, env: Env): Promise<Response> {
  requireBearer(req, env.ADMIN_TOKEN, 'admin');
  const body = (await readJsonBody(req, 4096)) as { policyId?: unknown };
  if (typeof body?.policyId !== 'string') throw new InvalidRequestError('invalid_request', 'body must be {"policyId": "0x…"}');
  const model = decodeURIComponent(req.params['name']!);
  await bindModelPolicy(env.DB, model, body.policyId, Date.now());
  return jsonResponse({ model, policyId: body.policyId.toLowerCase() });
}

/** DELETE /v1/models/:name/policy (admin) */
export async function handleUnbindModelPolicy(req: IRequest, env: Env): Promise<Response> {
  requireBearer(req, env.ADMIN_TOKEN, 'admin');
  const model = decodeURIComponent(req.params['name']!);
  return jsonResponse({ model, removed: await unbindModelPolicy(env.DB, model) });
}

/** POST /v1/api-keys (admin) `{"label"}` → `{id, key, label}`; the key is shown only here. */
export async function handleCreateApiKey(req: IRequest, env: Env): Promise<Response> {
  requireBearer(req, env.ADMIN_TOKEN, 'admin');
  return jsonResponse(await createApiKey(env.DB, await readJsonBody(req, 4096), Date.now()), 201);
}
