/**
 * Intents cost every operator work, so unauthenticated callers get a per-caller budget: a caller
 * (its client IP, as Cloudflare sets `cf-connecting-ip`) that spends it is refused with 429 before
 * anything is read or stored, and cannot crowd other callers' tasks out. Callers with an API key
 * are not limited here. The Workers Rate Limiting binding `INTENT_RATE_LIMITER` does the counting
 * where it is bound; without it, or when `INTENT_RATE_LIMIT_PER_MINUTE` is set, a fixed-window
 * counter in D1 does (it holds under wrangler dev, which may not enforce the binding).
 */
import type { IRequest } from 'itty-router';
import { lt, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { ProofgateError } from '../../core/errors';
import { intentRateLimits } from '../../schema';
import { resolveCaller } from '../callers/api-keys';
import type { Env } from '../env';
import type { Middleware } from '../http/middleware';

/** The settings the limit reads (see env.ts). */
export interface IntentRateLimitSettings {
  DB: D1Database;
  INTENT_RATE_LIMITER?: RateLimit;
  INTENT_RATE_LIMIT_PER_MINUTE?: string;
}

/** The caller spent its intent budget for now. */
export class IntentRateLimitedError extends ProofgateError {
  constructor(retryAfterSeconds: number) {
    super('rate_limited', 'too many intents from this caller; retry later or use an API key', 429, { retryAfterSeconds });
  }
}

/** Intents per minute an unauthenticated caller may submit when the D1 counter does the limiting. */
export const DEFAULT_INTENTS_PER_MINUTE = 30;
const WINDOW_MS = 60_000;

/** Who an unauthenticated caller is: its client address as Cloudflare reports it. */
function unauthenticatedCaller(request: Request): string {
  return `ip:${request.headers.get('cf-connecting-ip') ?? 'unknown'}`;
}

/** Throws 429 `rate_limited` when an unauthenticated caller is over its budget; 401 for an unknown API key. */
export async function limitUnauthenticatedIntents(request: Request, env: IntentRateLimitSettings, nowMs: number): Promise<void> {
  if ((await resolveCaller(env.DB, request)) !== null) return;
  const caller = unauthenticatedCaller(request);
  if (env.INTENT_RATE_LIMITER && !(await env.INTENT_RATE_LIMITER.limit({ key: caller })).success) {
    throw new IntentRateLimitedError(WINDOW_MS / 1000);
  }
  // The D1 counter stands in for a missing binding, and also applies where a per-minute limit is set.
  if (env.INTENT_RATE_LIMITER && env.INTENT_RATE_LIMIT_PER_MINUTE === undefined) return;
  const configured = Number(env.INTENT_RATE_LIMIT_PER_MINUTE);
  const limit = Number.isSafeInteger(configured) && configured > 0 ? configured : DEFAULT_INTENTS_PER_MINUTE;
  const windowStart = Math.floor(nowMs / WINDOW_MS) * WINDOW_MS;
  const db = drizzle(env.DB);
  // One statement, so concurrent requests cannot both take the last unit; a refused request counts nothing.
  const counted = await db
    .insert(intentRateLimits)
    .values({ caller, windowStart, count: 1 })
    .onConflictDoUpdate({
      target: [intentRateLimits.caller, intentRateLimits.windowStart],
      set: { count: sql`${intentRateLimits.count} + 1` },
      setWhere: lt(intentRateLimits.count, limit),
    })
    .returning({ count: intentRateLimits.count });
  if (counted.length === 0) throw new IntentRateLimitedError(Math.ceil((windowStart + WINDOW_MS - nowMs) / 1000));
  // The first intent of a caller's window clears every past window (indexed), so the table stays small.
  if (counted[0]!.count === 1) await db.delete(intentRateLimits).where(lt(intentRateLimits.windowStart, windowStart));
}

/** Route step of `POST /v1/intents`: the per-caller limit, before the body is read. */
export const limitIntents: Middleware = (req: IRequest, env: Env) => limitUnauthenticatedIntents(req, env, Date.now());
