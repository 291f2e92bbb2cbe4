import { drizzle } from 'drizzle-orm/d1';
import { isAddressEqual, type Address, type Hex } from 'viem';
import { z } from 'zod';
import {
  BACKEND_MESSAGE_MAX_SKEW_S,
  heartbeatTypedData,
  recoverBackendSigner,
  registrationTypedData,
  type BackendRegistration,
} from '../../core/backend-protocol';
import { ProofgateError } from '../../core/errors';
import { addressSchema, hexBytesSchema } from '../../core/hex';
import { backendAuthLabel, deriveNodeAuthKey } from '../../core/node-protocol';
import { backends } from '../../schema';
import { backendPool, type BackendPool } from '../../durable-objects/backend-pool';

/** How often a backend should heartbeat; the pool drops it after three missed beats. */
export const HEARTBEAT_INTERVAL_MS = 10_000;

const address = addressSchema;
const signature = hexBytesSchema(65);
const models = z.string().regex(/^(\*|0x[0-9a-f]{64}(,0x[0-9a-f]{64})*)$/, '"*" or comma-separated 0x sha256s');

/** Body of `POST /v1/backends/register`. */
export const backendRegistrationBody = z.object({
  registration: z.object({
    backend: address,
    url: z
      .string()
      .url()
      .max(512)
      .refine((u) => /^https?:/.test(u), 'http(s) URL'),
    executionProvider: z.string().regex(/^[a-z0-9_-]{1,32}$/),
    models,
    issuedAt: z.number().int().nonnegative(),
  }),
  signature,
});

/** Body of `POST /v1/backends/heartbeat`. */
export const backendHeartbeatBody = z.object({
  heartbeat: z.object({
    backend: address,
    inFlight: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1),
    issuedAt: z.number().int().nonnegative(),
  }),
  signature,
});

/** A backend message whose signature, signer or timestamp does not hold. */
export class BackendAuthError extends ProofgateError {
  constructor(code: string, message: string) {
    super(code, message, 401);
  }
}

async function checkSigned(
  typed: Parameters<typeof recoverBackendSigner>[0],
  sig: Hex,
  claimed: Address,
  issuedAt: number,
  nowMs: number,
): Promise<void> {
  if (Math.abs(nowMs / 1000 - issuedAt) > BACKEND_MESSAGE_MAX_SKEW_S) {
    throw new BackendAuthError('stale_message', `issuedAt is more than ${BACKEND_MESSAGE_MAX_SKEW_S}s from the gateway's clock`);
  }
  const signer = await recoverBackendSigner(typed, sig);
  if (!signer || !isAddressEqual(signer, claimed))
    throw new BackendAuthError('invalid_signature', 'signature does not recover to the backend address');
}

/**
 * Registers (or re-registers) a backend after checking that its key signed the registration. Returns
 * its id and the key with which it authenticates the gateway's requests.
 */
export async function registerBackend(
  db: D1Database,
  pool: DurableObjectNamespace<BackendPool>,
  gatewaySecret: string,
  body: z.infer<typeof backendRegistrationBody>,
  nowMs: number,
): Promise<{ id: string; address: Address; authKey: Hex; heartbeatIntervalMs: number }> {
  const { registration, signature: sig } = body;
  const reg: BackendRegistration = registration;
  await checkSigned(registrationTypedData(reg), sig, reg.backend, reg.issuedAt, nowMs);
  const id = reg.backend.toLowerCase();
  const modelList = reg.models === '*' ? '*' : reg.models.split(',');
  const row = {
    id,
    address: reg.backend,
    url: reg.url.replace(/\/+$/, ''),
    executionProvider: reg.executionProvider,
    models: JSON.stringify(modelList),
    status: 'active' as const,
    registeredAt: nowMs,
    updatedAt: nowMs,
  };
  await drizzle(db)
    .insert(backends)
    .values(row)
    .onConflictDoUpdate({
      target: backends.id,
      set: { url: row.url, executionProvider: row.executionProvider, models: row.models, status: 'active', updatedAt: nowMs },
    });
  await backendPool(pool).upsert({
    id,
    address: reg.backend,
    url: row.url,
    executionProvider: row.executionProvider,
    models: modelList,
    status: 'active',
  });
  return {
    id,
    address: reg.backend,
    authKey: await deriveNodeAuthKey(gatewaySecret, backendAuthLabel(reg.backend)),
    heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS,
  };
}

/** Records a signed heartbeat; 404 `backend_not_registered` tells the backend to register again. */
export async function recordHeartbeat(
  pool: DurableObjectNamespace<BackendPool>,
  body: z.infer<typeof backendHeartbeatBody>,
  nowMs: number,
): Promise<void> {
  const { heartbeat, signature: sig } = body;
  await checkSigned(heartbeatTypedData(heartbeat), sig, heartbeat.backend, heartbeat.issuedAt, nowMs);
  if (!(await backendPool(pool).heartbeat(heartbeat.backend.toLowerCase()))) {
    throw new ProofgateError('backend_not_registered', 'backend is not registered; register again', 404);
  }
}

/** Registered backends with their health; URLs only for admins. */
export async function listBackends(db: D1Database, pool: DurableObjectNamespace<BackendPool>, withUrls: boolean) {
  const rows = await drizzle(db).select().from(backends).orderBy(backends.id);
  const health = new Map((await backendPool(pool).health()).map((h) => [h.id, h]));
  return rows.map((r) => ({
    id: r.id,
    address: r.address,
    ...(withUrls ? { url: r.url } : {}),
    executionProvider: r.executionProvider,
    models: JSON.parse(r.models) as '*' | string[],
    status: r.status,
    healthy: health.get(r.id)?.healthy ?? false,
    inFlight: health.get(r.id)?.inFlight ?? 0,
    lastHeartbeatAt: health.get(r.id)?.lastHeartbeatAt ?? null,
    registeredAt: new Date(r.registeredAt).toISOString(),
  }));
}
