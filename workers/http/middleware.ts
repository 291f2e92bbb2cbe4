/**
 * The steps a route declares in the route table (workers/index.ts) before its handler: who may call
 * it, and what body it takes. Each returns nothing to let the request through, or throws a
 * ProofgateError that the router answers.
 */
import type { IRequest } from 'itty-router';
import type { z } from 'zod';
import { parseWithSchema } from '../../core/validation';
import type { Env } from '../env';
import { requireBearer } from './bearer-auth';
import { readBodyLimited, readJsonBody } from './request-body';

/** A request after middleware: route params, and the body a `withJson` or `withBytes` step read. */
export type RouteRequest<Content = unknown> = IRequest & { content: Content; rawBody: Uint8Array };

/** A step of a route: it may throw, or attach something to the request. (It gets what handlers get.) */
export type Middleware = ((req: IRequest, env: Env, ctx: ExecutionContext) => void | Promise<void>) & { describes?: string; body?: BodySpec };

/** The body a step reads, as the OpenAPI description (workers/openapi) tells it: media type, schema, size cap. */
export interface BodySpec {
  mediaType: string;
  schema?: z.ZodTypeAny;
  maxBytes?: number;
}

/** Only callers with the admin token (`Authorization: Bearer $ADMIN_TOKEN`). */
export const requireAdmin: Middleware = Object.assign((req: IRequest, env: Env) => requireBearer(req, env.ADMIN_TOKEN, 'admin'), {
  describes: 'admin',
});

/** Only callers with the operator token (nodes registering). */
export const requireOperatorToken: Middleware = Object.assign((req: IRequest, env: Env) => requireBearer(req, env.OPERATOR_TOKEN, 'operator'), {
  describes: 'operator',
});

/** Reads a JSON body of at most `maxBytes` and validates it with `schema` (400 on either) into `req.content`. */
export function withJson<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, maxBytes: number): Middleware {
  const step: Middleware = async (req) => {
    (req as RouteRequest<T>).content = parseWithSchema(schema, await readJsonBody(req, maxBytes));
  };
  return Object.assign(step, { body: { mediaType: 'application/json', schema, maxBytes } });
}

/** Reads a raw body of at most `maxBytes` (a number, or read from the Worker's settings) into `req.rawBody`. */
export function withBytes(maxBytes: number | ((env: Env) => number)): Middleware {
  const step: Middleware = async (req, env) => {
    (req as RouteRequest).rawBody = await readBodyLimited(req, typeof maxBytes === 'number' ? maxBytes : maxBytes(env));
  };
  return Object.assign(step, { body: { mediaType: 'application/octet-stream', ...(typeof maxBytes === 'number' ? { maxBytes } : {}) } });
}
