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

/** A step of a route: it may throw, or attach something to the request. */
export type Middleware = ((req: IRequest, env: Env) => void | Promise<void>) & { describes?: string };

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
  return async (req) => {
    (req as RouteRequest<T>).content = parseWithSchema(schema, await readJsonBody(req, maxBytes));
  };
}

/** Reads a raw body of at most `maxBytes` (a number, or read from the Worker's settings) into `req.rawBody`. */
export function withBytes(maxBytes: number | ((env: Env) => number)): Middleware {
  return async (req, env) => {
    (req as RouteRequest).rawBody = await readBodyLimited(req, typeof maxBytes === 'number' ? maxBytes : maxBytes(env));
  };
}
