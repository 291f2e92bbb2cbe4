/**
 * Cache-Control for every answer, in one place (the router's `finally` step): an answer that names
 * its own policy keeps it (model blobs, PolicyData); a 200 from a route marked `immutable` in the
 * route table may be kept for good; everything else is `no-store`, so no cache in front of the
 * Worker can hold a payment's, a task's or a model list's state.
 */
import type { IRequest } from 'itty-router';
import type { Middleware } from './middleware';
import { withHeader } from './response-headers';

/** Cache-Control of content-addressed answers: the same URL always has the same bytes. */
export const IMMUTABLE_CACHE_CONTROL = 'public, max-age=31536000, immutable';

const immutableRequests = new WeakSet<object>();

/**
 * Route step: this route's successful answers are addressed by their content (a hash in the path),
 * so any cache may keep them. Only 200s are: a 404 may become a 200 once the content exists.
 */
export const immutable: Middleware = (req) => {
  immutableRequests.add(req);
};

/** Router `finally` step: sets Cache-Control on answers that do not set it themselves. */
export function applyCacheControl(response: Response, request: IRequest): Response {
  if (response.headers.has('cache-control')) return response;
  const cacheable = response.status === 200 && immutableRequests.has(request);
  return withHeader(response, 'cache-control', cacheable ? IMMUTABLE_CACHE_CONTROL : 'no-store');
}
