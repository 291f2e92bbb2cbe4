/**
 * One structured log line per HTTP request, written when the answer leaves the router: request id,
 * route, status, latency, and what the handlers noted on the way (model, backend, payment state…).
 * The router calls beginRequestLog first and endRequestLog last (workers/index.ts); handlers call
 * annotateRequest.
 */
import type { IRequest } from 'itty-router';
import { ProofgateError } from '../../core/errors';
import { toErrorResponse } from '../http/problem';
import { withHeader } from '../http/response-headers';
import { type LogFields, logEvent } from './log-event';

/** Answer header carrying the request id, so a caller can quote it and an operator can find the line. */
export const REQUEST_ID_HEADER = 'proofgate-request-id';

interface RequestLog {
  id: string;
  startMs: number;
  fields: LogFields;
}

// Keyed by the request object itself, which itty-router hands unchanged to every step and handler.
const logs = new WeakMap<object, RequestLog>();

/** Router `before` step: starts the request's log with its id (Cloudflare's Ray ID when there is one). */
export function beginRequestLog(request: IRequest): void {
  logs.set(request, { id: request.headers.get('cf-ray') ?? crypto.randomUUID(), startMs: Date.now(), fields: {} });
}

/** Adds fields to the request's log line (later values win). A no-op for a request the router did not see. */
export function annotateRequest(request: Request, fields: LogFields): void {
  const log = logs.get(request);
  if (log) Object.assign(log.fields, fields);
}

/** The request's id, once beginRequestLog has run. */
export function requestIdOf(request: Request): string | undefined {
  return logs.get(request)?.id;
}

/** Router `catch` step: notes the error's stable code, then answers as toErrorResponse does. */
export function respondToError(err: unknown, request: IRequest): Response {
  annotateRequest(request, { code: err instanceof ProofgateError ? err.code : 'internal_error' });
  return toErrorResponse(err);
}

/** Router `finally` step: writes the request's log line and stamps the request id on the answer. */
export function endRequestLog(response: Response, request: IRequest): Response {
  const log = logs.get(request);
  if (!log) return response;
  logs.delete(request);
  logEvent(
    'request',
    {
      requestId: log.id,
      method: request.method,
      // itty-router records `/` as the empty pattern.
      route: typeof request.route === 'string' ? request.route || '/' : undefined,
      status: response.status,
      latencyMs: Date.now() - log.startMs,
      ...log.fields,
    },
    response.status >= 500 ? 'error' : 'info',
  );
  return withHeader(response, REQUEST_ID_HEADER, log.id);
}
