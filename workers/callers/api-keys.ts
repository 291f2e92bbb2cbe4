import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { bytesToHex } from 'viem';
import { z } from 'zod';
import { ProofgateError } from '../../core/errors';
import { sha256Hex } from '../../core/tensors';
import { apiKeys } from '../../schema';

/** A bearer token that is not a known API key. */
export class InvalidApiKeyError extends ProofgateError {
  constructor() {
    super('invalid_api_key', 'the API key is not valid', 401);
  }
}

const KEY_PREFIX = 'pgk_';

/** Body of `POST /v1/api-keys`. */
export const apiKeyBody = z.object({ label: z.string().min(1).max(128) });

/** Issues an API key (admin): the key is returned once; only its hash is kept. */
export async function createApiKey(
  db: D1Database,
  body: z.infer<typeof apiKeyBody>,
  nowMs: number,
): Promise<{ id: string; key: string; label: string }> {
  const id = `key_${bytesToHex(crypto.getRandomValues(new Uint8Array(8))).slice(2)}`;
  const key = `${KEY_PREFIX}${bytesToHex(crypto.getRandomValues(new Uint8Array(24))).slice(2)}`;
  await drizzle(db)
    .insert(apiKeys)
    .values({ id, keyHash: await hashKey(key), label: body.label, createdAt: nowMs });
  return { id, key, label: body.label };
}

/** How long an isolate remembers a valid API key (keys are never reissued under another id). */
export const API_KEY_TTL_MS = 60_000;
const knownKeys = new Map<string, { id: string; at: number }>();

/** The API key id of a request's `Authorization: Bearer pgk_…`, null without one, 401 for an unknown key. */
export async function resolveCaller(db: D1Database, request: Request, nowMs = Date.now()): Promise<string | null> {
  const header = request.headers.get('authorization') ?? '';
  if (!header.startsWith(`Bearer ${KEY_PREFIX}`)) return null;
  const match = /^Bearer (pgk_[0-9a-f]{48})$/.exec(header);
  if (!match) throw new InvalidApiKeyError();
  const keyHash = await hashKey(match[1]!);
  const known = knownKeys.get(keyHash);
  if (known && nowMs - known.at < API_KEY_TTL_MS) return known.id;
  const rows = await drizzle(db).select({ id: apiKeys.id }).from(apiKeys).where(eq(apiKeys.keyHash, keyHash)).limit(1);
  if (!rows[0]) throw new InvalidApiKeyError();
  knownKeys.set(keyHash, { id: rows[0].id, at: nowMs });
  if (knownKeys.size > 4096) knownKeys.delete(knownKeys.keys().next().value!);
  return rows[0].id;
}

async function hashKey(key: string): Promise<string> {
  return sha256Hex(new TextEncoder().encode(key));
}
