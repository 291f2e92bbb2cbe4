/**
 * The gateway's OpenAPI 3.1 description, generated from the route table itself: every route of
 * `router.routes` with its path parameters, who may call it (the `describes` of its auth step) and
 * its request body (the zod schema its `withJson` step validates with), plus the summaries, query
 * parameters and answers of route-docs.ts. Built once per isolate.
 */
import { OpenAPIRegistry, OpenApiGeneratorV31, extendZodWithOpenApi, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import type { RouteEntry } from 'itty-router';
import { z } from 'zod';
import type { Middleware } from '../http/middleware';
import { ROUTE_DOCS, type RouteDoc } from './route-docs';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;
type Method = (typeof METHODS)[number];

/** `METHOD path` of every route in the table (the key of its description). */
export function routeKeys(routes: readonly RouteEntry[]): string[] {
  return [
    ...new Set(routes.filter(([method, , , path]) => method !== 'ALL' && path !== undefined).map(([method, , , path]) => `${method} ${path || '/'}`)),
  ];
}

/**
 * Builds the document. A route without a description in route-docs.ts is still listed (with what
 * the table says) and named in `x-undocumented-routes`, which the OpenAPI test requires to be empty.
 */
export function buildOpenApiDocument(routes: readonly RouteEntry[]): Record<string, unknown> {
  extendZodWithOpenApi(z); // parameters need zod's .openapi(); the call is idempotent
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'admin', { type: 'http', scheme: 'bearer', description: "the gateway's admin token" });
  registry.registerComponent('securitySchemes', 'operator', { type: 'http', scheme: 'bearer', description: "the gateway's operator token" });
  const missing: string[] = [];
  const seen = new Set<string>();
  for (const [method, , handlers, rawPath] of routes) {
    if (method === 'ALL' || rawPath === undefined) continue;
    const path = rawPath || '/'; // itty-router keeps '/' as ''
    const key = `${method} ${path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const verb = method.toLowerCase() as Method;
    if (!METHODS.includes(verb)) continue;
    let doc = ROUTE_DOCS[key];
    if (!doc) {
      missing.push(key);
      doc = { summary: key, tag: 'undocumented', responses: { 200: { description: 'not described yet' } } };
    }
    registry.registerPath(operation(verb, path, handlers as Middleware[], doc));
  }
  const document = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Proofgate gateway',
      version: '1',
      description:
        'Verifiable pay-per-call AI inference (x402 payments, signed receipts) and verifiable transaction authorization (intents, BLS quorum attestations). Errors are `{"error": {"code", "message"}}` with a stable code.',
    },
    tags: [...new Set(Object.values(ROUTE_DOCS).map((d) => d.tag))].map((name) => ({ name })),
  }) as unknown as Record<string, unknown>;
  return missing.length ? { ...document, 'x-undocumented-routes': missing } : document;
}

function operation(method: Method, path: string, steps: readonly Middleware[], doc: RouteDoc): RouteConfig {
  const params = [...path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
  const who = steps.map((s) => s.describes).filter((d): d is string => Boolean(d));
  const body = steps.map((s) => s.body).find(Boolean);
  const request: NonNullable<RouteConfig['request']> = {};
  if (params.length) request.params = z.object(Object.fromEntries(params.map((p) => [p, z.string()])));
  if (doc.query)
    request.query = z.object(Object.fromEntries(Object.entries(doc.query).map(([k, q]) => [k, q.schema.openapi({ description: q.description })])));
  const binary = () => z.string().openapi({ format: 'binary' });
  if (body) {
    request.body = {
      required: true,
      ...(body.maxBytes !== undefined ? { description: `at most ${body.maxBytes} bytes` } : {}),
      content: { [body.mediaType]: { schema: body.schema ?? binary() } },
    };
  } else if (doc.body) {
    request.body = {
      required: true,
      content: Object.fromEntries(Object.entries(doc.body).map(([type, schema]) => [type, { schema: schema ?? binary() }])),
    };
  }
  return {
    method,
    path: path.replace(/:([A-Za-z0-9_]+)/g, '{$1}'),
    summary: doc.summary,
    ...(doc.description ? { description: doc.description } : {}),
    tags: [doc.tag],
    ...(who.length ? { security: who.map((w) => ({ [w]: [] })) } : {}),
    ...(Object.keys(request).length ? { request } : {}),
    responses: Object.fromEntries(
      Object.entries(doc.responses).map(([status, res]) => [
        status,
        {
          description: res.description,
          ...(res.schema || res.mediaType ? { content: { [res.mediaType ?? 'application/json']: { schema: res.schema ?? binary() } } } : {}),
        },
      ]),
    ),
  };
}

let cached: string | undefined;

/** GET /openapi.json: the document, generated on first use in this isolate. */
export function openApiResponse(routes: readonly RouteEntry[]): Response {
  cached ??= JSON.stringify(buildOpenApiDocument(routes));
  return new Response(cached, { headers: { 'content-type': 'application/json', 'cache-control': 'public, max-age=300' } });
}
