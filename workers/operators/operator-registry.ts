import { drizzle } from 'drizzle-orm/d1';
import { eq } from 'drizzle-orm';
import { bytesToHex, hexToBytes, type Address, type Hex } from 'viem';
import { z } from 'zod';
import { verifyProofOfPossession, verifySignature, type OperatorRegistry, type RegisteredOperator } from '../../core/attestation';
import { InvalidRequestError, ProofgateError } from '../../core/errors';
import { operators } from '../../schema';
import { addressSchema, hexBytesSchema } from '../../core/hex';
import { deriveNodeAuthKey, operatorAuthLabel } from '../../core/node-protocol';
import { OPERATOR_ID, REGISTRATION_MAX_SKEW_S, defaultOperatorId, operatorRegistrationMessage } from '../../core/operator-protocol';

/** Body of `POST /v1/operators/register`. */
export const operatorRegistrationBody = z.object({
  id: z.string().regex(OPERATOR_ID, 'letters, digits, ".", "_" or "-", at most 64').optional(),
  blsPublicKey: hexBytesSchema(48),
  proofOfPossession: hexBytesSchema(96),
  url: z
    .string()
    .url()
    .max(512)
    .refine((u) => /^https?:/.test(u), 'http(s) URL')
    .transform((u) => u.replace(/\/+$/, '')),
  address: addressSchema.optional(),
  issuedAt: z.number().int().nonnegative(),
  /** BLS signature (message DST) over operatorRegistrationMessage: proves the key holder sent this registration now. */
  signature: hexBytesSchema(96),
});

/** Body of `POST /v1/operators/:id/stake`. */
export const operatorStakeBody = z.object({
  stake: z.union([z.string().regex(/^(0|[1-9][0-9]{0,76})$/), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)]),
});

/** An operator as the registry lists it. */
export interface OperatorRecord {
  id: string;
  blsPublicKey: Hex;
  proofOfPossession: Hex;
  address: Address | null;
  url: string;
  stake: string;
  status: 'pending' | 'active' | 'disabled';
  registeredAt: string;
}

/** A registration whose key, proof of possession or signature does not hold. */
export class OperatorRegistrationError extends ProofgateError {
  constructor(code: string, message: string, status = 400) {
    super(code, message, status);
  }
}

/** No operator with that id. */
export class OperatorNotFoundError extends ProofgateError {
  constructor(id: string) {
    super('operator_not_found', `no operator ${id}`, 404);
  }
}

/**
 * Registers an operator after checking its proof of possession (refusing rogue keys) and its
 * signature over this registration. A key already registered under another id is refused; the
 * same key and id again (a restarted node) updates the URL. Returns the gateway-request auth key.
 */
export async function registerOperator(
  db: D1Database,
  gatewaySecret: string,
  reg: z.infer<typeof operatorRegistrationBody>,
  nowMs: number,
): Promise<{ id: string; authKey: Hex; status: OperatorRecord['status']; created: boolean }> {
  const id = reg.id ?? defaultOperatorId(reg.blsPublicKey);
  const publicKey = hexToBytes(reg.blsPublicKey);
  if (!verifyProofOfPossession(publicKey, hexToBytes(reg.proofOfPossession))) {
    throw new OperatorRegistrationError('invalid_proof_of_possession', 'the proof of possession does not verify for this BLS public key');
  }
  if (Math.abs(nowMs / 1000 - reg.issuedAt) > REGISTRATION_MAX_SKEW_S) {
    throw new OperatorRegistrationError('stale_registration', `issuedAt is more than ${REGISTRATION_MAX_SKEW_S}s from the gateway's clock`, 401);
  }
  const message = operatorRegistrationMessage({ id, url: reg.url, address: reg.address ?? null, issuedAt: reg.issuedAt });
  if (!verifySignature(publicKey, message, hexToBytes(reg.signature))) {
    throw new OperatorRegistrationError('invalid_signature', 'the registration is not signed by this BLS key', 401);
  }
  const d = drizzle(db);
  const [byKey] = await d.select().from(operators).where(eq(operators.blsPublicKey, reg.blsPublicKey)).limit(1);
  if (byKey && byKey.id !== id) {
    throw new OperatorRegistrationError('operator_key_registered', `this BLS key is already registered as operator ${byKey.id}`, 409);
  }
  const [byId] = await d.select().from(operators).where(eq(operators.id, id)).limit(1);
  if (byId && byId.blsPublicKey !== reg.blsPublicKey) {
    throw new OperatorRegistrationError('operator_id_taken', `operator id ${id} belongs to another key`, 409);
  }
  if (byId) {
    await d
      .update(operators)
      .set({ url: reg.url, address: reg.address ?? null, updatedAt: nowMs })
      .where(eq(operators.id, id));
  } else {
    await d.insert(operators).values({
      id,
      blsPublicKey: reg.blsPublicKey,
      proofOfPossession: reg.proofOfPossession,
      url: reg.url,
      address: reg.address ?? null,
      stake: '0',
      status: 'pending',
      registeredAt: nowMs,
      updatedAt: nowMs,
    });
  }
  const authKey = await deriveNodeAuthKey(gatewaySecret, operatorAuthLabel(id));
  return { id, authKey, status: byId?.status ?? 'pending', created: !byId };
}

/** Sets an operator's stake (admin); a positive stake makes it active, zero makes it pending. */
export async function setOperatorStake(db: D1Database, id: string, body: z.infer<typeof operatorStakeBody>, nowMs: number): Promise<OperatorRecord> {
  const stake = BigInt(body.stake);
  if (stake >= 2n ** 256n) throw new InvalidRequestError('invalid_request', 'stake exceeds uint256');
  const status = stake > 0n ? 'active' : 'pending';
  const updated = await drizzle(db)
    .update(operators)
    .set({ stake: stake.toString(), status, updatedAt: nowMs })
    .where(eq(operators.id, id))
    .returning({ id: operators.id });
  if (updated.length === 0) throw new OperatorNotFoundError(id);
  return (await listOperators(db)).find((o) => o.id === id)!;
}

/** Every registered operator, ordered by id. */
export async function listOperators(db: D1Database): Promise<OperatorRecord[]> {
  const rows = await drizzle(db).select().from(operators).orderBy(operators.id);
  return rows.map((r) => ({
    id: r.id,
    blsPublicKey: r.blsPublicKey as Hex,
    proofOfPossession: r.proofOfPossession as Hex,
    address: (r.address as Address | null) ?? null,
    url: r.url,
    stake: r.stake,
    status: r.status,
    registeredAt: new Date(r.registeredAt).toISOString(),
  }));
}

/** An active operator with the URL the gateway reaches it at. */
export type ActiveOperator = RegisteredOperator & { url: string; stake: string };

/** The active operators (positive stake), as the registry snapshot tasks and verifiers use. */
export async function activeOperatorSnapshot(db: D1Database): Promise<ActiveOperator[]> {
  return (await listOperators(db))
    .filter((o) => o.status === 'active')
    .map((o) => ({ id: o.id, blsPublicKey: o.blsPublicKey, stake: o.stake, status: 'active', url: o.url }));
}

/** The registry verifiers check attestations against (keys were admitted with proofs of possession). */
export function toRegistry(snapshot: readonly RegisteredOperator[]): OperatorRegistry {
  return {
    operators: snapshot.map(({ id, blsPublicKey, stake, status }) => ({ id, blsPublicKey: bytesToHex(hexToBytes(blsPublicKey)), stake, status })),
  };
}
