import type { IRequest } from 'itty-router';
import { ProofgateError } from '../../core/errors';
import { version as serverVersion } from '../../package.json';
import type { Env } from '../env';
import { jsonResponse, toErrorResponse } from '../http/problem';
import { runInferenceCall } from '../inference/inference-call';
import { kserveForm } from '../inference/kserve/form';
import { KSERVE_EXTENSIONS, modelMetadata, modelReady, modelVersions, serverReady } from '../inference/kserve/metadata';
import { kserveError, toKserveError } from '../inference/kserve/reply';
import { annotateRequest } from '../observability/request-log';
import { parseVersion, routeParam } from './models';

// The Open Inference Protocol (KServe v2 REST, what Triton and KServe speak), beside Proofgate's own
// API: health, metadata and inference under /v2. Every error is the protocol's error object,
// {"error": "<message>"}, with Proofgate's stable `code` beside it.

type Handler = (req: IRequest, env: Env, ctx: ExecutionContext) => Promise<Response>;

// Answers a handler's ProofgateError (and anything unexpected, as a 500 without internals) in the
// protocol's error form, noting its code in the request's log line as the router's catch does.
function protocolErrors(handler: Handler): Handler {
  return async (req, env, ctx) => {
    try {
      return await handler(req, env, ctx);
    } catch (err) {
      annotateRequest(req, { code: err instanceof ProofgateError ? err.code : 'internal_error' });
      return toKserveError(toErrorResponse(err));
    }
  };
}

function target(req: IRequest): { name: string; version: number | undefined } {
  return { name: routeParam(req, 'name'), version: req.params['version'] === undefined ? undefined : parseVersion(routeParam(req, 'version')) };
}

/** GET /v2: the protocol's server metadata. */
export function handleKserveServerMetadata(): Response {
  return jsonResponse({ name: 'proofgate', version: serverVersion, extensions: KSERVE_EXTENSIONS });
}

/** GET /v2/health/live: the gateway answers, so it is live. */
export function handleKserveLive(): Response {
  return jsonResponse({ live: true });
}

/** GET /v2/health/ready: 200 when every model has a backend to take it, 400 (the protocol's "false") otherwise. */
export async function handleKserveReady(_req: IRequest, env: Env, ctx: ExecutionContext): Promise<Response> {
  const { ready, waiting } = await serverReady(env.DB, { pool: env.BACKEND_POOL, waitUntil: (p) => ctx.waitUntil(p) }, Date.now());
  if (ready) return jsonResponse({ ready: true });
  const message = waiting.length ? `no healthy backend serves ${waiting.join(', ')} right now` : 'the model hub or the backend pool cannot be read';
  return kserveError(400, 'not_ready', message, { ready: false });
}

/** GET /v2/models/:name[/versions/:version]: the protocol's model metadata. */
export const handleKserveModelMetadata: Handler = protocolErrors(async (req, env) => {
  const { name, version } = target(req);
  return jsonResponse(await modelMetadata(env.DB, name, version));
});

/** GET /v2/models/:name[/versions/:version]/ready: 200 when a backend could take the model now, 400 (the protocol's "false") otherwise. */
export const handleKserveModelReady: Handler = protocolErrors(async (req, env, ctx) => {
  const { name, version } = target(req);
  const { model } = await modelVersions(env.DB, name, version);
  if (await modelReady({ pool: env.BACKEND_POOL, waitUntil: (p) => ctx.waitUntil(p) }, model, Date.now())) return jsonResponse({ name, ready: true });
  return kserveError(400, 'model_not_ready', `no healthy backend serves model "${name}" version ${model.version} right now`, { name, ready: false });
});

/** POST /v2/models/:name[/versions/:version]/infer: one inference call in the protocol's form (inference/kserve/form.ts). */
export const handleKserveInfer: Handler = protocolErrors((req, env, ctx) => runInferenceCall(env, ctx, req, target(req), kserveForm(req)));

/** Any other path under /v2: the protocol's 404. */
export function handleKserveNotFound(req: IRequest): Response {
  return kserveError(404, 'not_found', `no route for ${req.method} ${new URL(req.url).pathname}`);
}
