import type { IRequest } from 'itty-router';
import { z } from 'zod';
import { bytes32Schema } from '../../core/hex';
import type { Env } from '../env';
import { type apiKeyBody, createApiKey } from '../callers/api-keys';
import type { RouteRequest } from '../http/middleware';
import { jsonResponse } from '../http/problem';
import { checkModelName } from '../hub/model-store';
import { routeParam } from './models';
import { compiledPolicies, evaluateRule } from '../policies/admission';
import { bindModelPolicy, createPolicy, getPolicy, unbindModelPolicy, type PolicyContent } from '../policies/policy-store';

/** Body of `POST /v1/policies/:id/evaluate`: the input, and optionally the rule (default `<entrypoint>.allow`) and the time. */
export const evaluatePolicyBody = z.object({
  input: z.unknown(),
  rule: z
    .string()
    .regex(/^data(\.[A-Za-z_][A-Za-z0-9_]*)+$/, 'a path such as data.pkg.allow')
    .optional(),
  time: z
    .string()
    .refine((t) => Number.isFinite(Date.parse(t)), 'RFC 3339')
    .optional(),
});

/** Body of `PUT /v1/models/:name/policy`. */
export const bindPolicyBody = z.object({ policyId: bytes32Schema });

/** POST /v1/policies: stores a compile-checked Rego policy; its id is its content hash. */
export async function handleCreatePolicy(req: RouteRequest<PolicyContent>, env: Env): Promise<Response> {
  const { policy, created } = await createPolicy(env.DB, req.content, Date.now());
  return jsonResponse({ ...policy, created }, created ? 201 : 200);
}

/** GET /v1/policies/:id */
export async function handleGetPolicy(req: IRequest, env: Env): Promise<Response> {
  return jsonResponse(await getPolicy(env.DB, String(req.params['id'])));
}

/** POST /v1/policies/:id/evaluate: evaluates a rule of the policy in this Worker, for dry runs and for checking that every runtime agrees. */
export async function handleEvaluatePolicy(req: RouteRequest<z.infer<typeof evaluatePolicyBody>>, env: Env): Promise<Response> {
  const policy = await getPolicy(env.DB, String(req.params['id']));
  const rule = req.content.rule ?? `${policy.entrypoint}.allow`;
  const nowMs = req.content.time !== undefined ? Date.parse(req.content.time) : Date.now();
  const value = evaluateRule(compiledPolicies.get(policy), rule, req.content.input, nowMs);
  return jsonResponse(value === undefined ? { rule, defined: false } : { rule, defined: true, value });
}

/** PUT /v1/models/:name/policy `{"policyId"}`: every call to the model is admitted by that policy. */
export async function handleBindModelPolicy(req: RouteRequest<z.infer<typeof bindPolicyBody>>, env: Env): Promise<Response> {
  const model = checkModelName(routeParam(req, 'name'));
  await bindModelPolicy(env.DB, model, req.content.policyId, Date.now());
  return jsonResponse({ model, policyId: req.content.policyId });
}

/** DELETE /v1/models/:name/policy */
export async function handleUnbindModelPolicy(req: IRequest, env: Env): Promise<Response> {
  const model = checkModelName(routeParam(req, 'name'));
  return jsonResponse({ model, removed: await unbindModelPolicy(env.DB, model) });
}

/** POST /v1/api-keys `{"label"}` → `{id, key, label}`; the key is shown only here. */
export async function handleCreateApiKey(req: RouteRequest<z.infer<typeof apiKeyBody>>, env: Env): Promise<Response> {
  return jsonResponse(await createApiKey(env.DB, req.content, Date.now()), 201);
}
