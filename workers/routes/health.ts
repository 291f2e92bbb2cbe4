import type { IRequest, RouteEntry } from 'itty-router';
import type { Env } from '../env';
import type { Middleware } from '../http/middleware';
import { jsonResponse } from '../http/problem';

/** GET /healthz: 200 once D1 answers with the schema applied, 503 otherwise. */
export async function handleHealth(_req: IRequest, env: Env): Promise<Response> {
  try {
    await env.DB.prepare('SELECT 1 FROM model_versions LIMIT 1').all();
    return jsonResponse({ ok: true });
  } catch {
    return jsonResponse({ ok: false, error: { code: 'not_ready', message: 'the database is not ready (migrations applied?)' } }, 503);
  }
}

/**
 * GET /: every route, read from the router's own table (so it cannot go stale), with who may call
 * it when a route is restricted.
 */
export function indexOf(routes: readonly RouteEntry[]): Response {
  const endpoints = routes
    .filter(([method, , , path]) => method !== 'ALL' && path)
    .map(([method, , handlers, path]) => {
      const who = handlers.map((h) => (h as Middleware).describes).filter(Boolean);
      return `${method} ${path!.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}${who.length ? ` (${who.join(', ')})` : ''}`;
    });
  return jsonResponse({ name: 'Proofgate', endpoints });
}
