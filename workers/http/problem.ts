import { ProofgateError } from '../../core/errors';
import { logEvent } from '../observability/log-event';

/** Builds the JSON error body every endpoint uses: {"error": {"code", "message", ...details}}. */
export function errorResponse(err: ProofgateError, headers?: HeadersInit): Response {
  const body = { error: { code: err.code, message: err.message, ...(err.details ?? {}) } };
  const h = new Headers(headers);
  h.set('content-type', 'application/json');
  return new Response(JSON.stringify(body), { status: err.status, headers: h });
}

/** Turns anything thrown by a handler into a response; unexpected errors become 500 without internals. */
export function toErrorResponse(err: unknown): Response {
  if (err instanceof ProofgateError) {
    const retryAfter = err.details?.['retryAfterSeconds'];
    return errorResponse(err, typeof retryAfter === 'number' ? { 'retry-after': String(retryAfter) } : undefined);
  }
  logEvent('unhandled_error', { detail: (err instanceof Error ? (err.stack ?? err.message) : String(err)).slice(0, 2000) }, 'error');
  return errorResponse(new ProofgateError('internal_error', 'internal error', 500));
}

/** 404 for paths no route matches. */
export function notFound(request: Request): Response {
  const { pathname } = new URL(request.url);
  return errorResponse(new ProofgateError('not_found', `no route for ${request.method} ${pathname}`, 404));
}

/** JSON response helper with a fixed content type. */
export function jsonResponse(body: unknown, status = 200, headers?: HeadersInit): Response {
  const h = new Headers(headers);
  h.set('content-type', 'application/json');
  return new Response(JSON.stringify(body), { status, headers: h });
}
