import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { hexToBytes, isAddressEqual, type Address, type Hex } from 'viem';
import { z } from 'zod';
import {
  BACKEND_MESSAGE_MAX_SKEW_S,
  departureTypedData,
  operatorAttachmentMessage,
  operatorAttachmentSchema,
  type OperatorAttachment,
  heartbeatTypedData,
  recoverBackendSigner,
  registrationTypedData,
  type BackendRegistration,
} from '../../core/backend-protocol';
import { verifySignature } from '../../core/attestation';
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
  /** The operator the backend belongs to, proven by the operator's BLS signature over its attachment (quorum mode). */
  operator: operatorAttachmentSchema.optional(),
});

const uint32 = z
  .number()
  .int()
  .min(0)
  .max(2 ** 32 - 1);

/** Body of `POST /v1/backends/heartbeat`: liveness and the load the backend reports. */
export const backendHeartbeatBody = z.object({
  heartbeat: z.object({
    backend: address,
    inFlight: uint32,
    queueDepth: uint32,
    queueCapacity: uint32,
    draining: z.boolean(),
    issuedAt: z.number().int().nonnegative(),
  }),
  signature,
});

/** Body of `POST /v1/backends/depart`: a drained backend leaving the pool. */
export const backendDepartureBody = z.object({
  departure: z.object({ backend: address, issuedAt: z.number().int().nonnegative() }),
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
 * Checks that the operator's BLS key signed this backend's attachment (its address, URL and the
 * registration's time). Whether the key is the operator's is decided at each quorum, against the
 * OperatorRegistry snapshot on chain, so a key the chain does not list for that id never counts.
 */
function checkAttachment(operator: OperatorAttachment, reg: BackendRegistration): void {
  const message = operatorAttachmentMessage({ operatorId: operator.id, backend: reg.backend, url: reg.url, issuedAt: reg.issuedAt });
  if (!verifySignature(hexToBytes(operator.blsPublicKey), message, hexToBytes(operator.signature))) {
    throw new BackendAuthError('invalid_operator_attachment', "the operator's BLS key did not sign this backend's attachment");
  }
}

/**
 * Registers (or re-registers) a backend after checking that its key signed the registration, and,
 * when it names an operator, that the operator's key signed its attachment. Returns its id and the
 * key with which it authenticates the gateway's requests.
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
  if (body.operator) checkAttachment(body.operator, reg);
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
    operator: body.operator ? { id: body.operator.id, blsPublicKey: body.operator.blsPublicKey } : null,
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
  const { inFlight, queueDepth, queueCapacity, draining } = heartbeat;
  if (!(await backendPool(pool).heartbeat(heartbeat.backend.toLowerCase(), { inFlight, queueDepth, queueCapacity, draining }))) {
    throw new ProofgateError('backend_not_registered', 'backend is not registered; register again', 404);
  }
}

/** Takes a drained backend out of the pool (its own signature only); its D1 record stays, marked disabled. */
export async function recordDeparture(
  db: D1Database,
  pool: DurableObjectNamespace<BackendPool>,
  body: z.infer<typeof backendDepartureBody>,
  nowMs: number,
): Promise<void> {
  const { departure, signature: sig } = body;
  await checkSigned(departureTypedData(departure), sig, departure.backend, departure.issuedAt, nowMs);
  const id = departure.backend.toLowerCase();
  await backendPool(pool).depart(id);
  await drizzle(db).update(backends).set({ status: 'disabled', updatedAt: nowMs }).where(eq(backends.id, id));
}

/** Registered backends with their health; URLs only for admins. */
export async function listBackends(db: D1Database, pool: DurableObjectNamespace<BackendPool>, withUrls: boolean) {
  const rows = await drizzle(db).select().from(backends).orderBy(backends.id);
  const members = new Map((await backendPool(pool).snapshot()).members.map((m) => [m.id, m]));
  return rows.map((r) => {
    const m = members.get(r.id);
    return {
      id: r.id,
      address: r.address,
      ...(withUrls ? { url: r.url } : {}),
      executionProvider: r.executionProvider,
      models: JSON.parse(r.models) as '*' | string[],
      status: r.status,
      inPool: m !== undefined,
      healthy: m?.healthy ?? false,
      draining: m?.draining ?? false,
      inFlight: m?.inFlight ?? 0,
      queueDepth: m?.queueDepth ?? 0,
      lastHeartbeatAt: m?.lastHeartbeatAt ?? null,
      /** The operator the backend proved it belongs to at its last registration (null: none). */
      operator: m?.operator ?? null,
      registeredAt: new Date(r.registeredAt).toISOString(),
    };
  });
}
