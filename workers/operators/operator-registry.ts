import { drizzle } from 'drizzle-orm/d1';
import { eq } from 'drizzle-orm';
import { hexToBytes, type Address, type Hex } from 'viem';
import { z } from 'zod';
import { activeOperators, verifyProofOfPossession, verifySignature, type OperatorRegistry } from '../../core/attestation';
import { ProofgateError } from '../../core/errors';
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

/** An operator's signer node as registered at the gateway. */
export interface SignerNodeRecord {
  id: string;
  blsPublicKey: Hex;
  proofOfPossession: Hex;
  address: Address | null;
  url: string;
  registeredAt: string;
}

/** A registration whose key, proof of possession or signature does not hold. */
export class OperatorRegistrationError extends ProofgateError {
  constructor(code: string, message: string, status = 400) {
    super(code, message, status);
  }
}

/**
 * Registers an operator's signer node after checking its proof of possession (refusing rogue keys)
 * and its signature over this registration. A key already registered under another id is refused;
 * the same key and id again (a restarted node) updates the URL. Returns the gateway-request auth
 * key. Tasks reach the node only while the OperatorRegistry on chain lists the same id with the same
 * key and a positive stake.
 */
export async function registerOperator(
  db: D1Database,
  gatewaySecret: string,
  reg: z.infer<typeof operatorRegistrationBody>,
  nowMs: number,
): Promise<{ id: string; authKey: Hex; created: boolean }> {
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
      registeredAt: nowMs,
      updatedAt: nowMs,
    });
  }
  const authKey = await deriveNodeAuthKey(gatewaySecret, operatorAuthLabel(id));
  return { id, authKey, created: !byId };
}

/** Every registered signer node, ordered by id. */
export async function listSignerNodes(db: D1Database): Promise<SignerNodeRecord[]> {
  const rows = await drizzle(db).select().from(operators).orderBy(operators.id);
  return rows.map((r) => ({
    id: r.id,
    blsPublicKey: r.blsPublicKey as Hex,
    proofOfPossession: r.proofOfPossession as Hex,
    address: (r.address as Address | null) ?? null,
    url: r.url,
    registeredAt: new Date(r.registeredAt).toISOString(),
  }));
}

/**
 * The signer nodes that serve a registry snapshot: one per member whose registered node holds the
 * very key the chain lists for that id (a node registered under a member's id with another key is
 * no node of that member).
 */
export async function signerNodesOf(db: D1Database, registry: OperatorRegistry): Promise<{ id: string; url: string }[]> {
  const nodes = new Map((await listSignerNodes(db)).map((n) => [n.id, n]));
  return activeOperators(registry).flatMap((member) => {
    const node = nodes.get(member.id);
    return node && node.blsPublicKey.toLowerCase() === member.blsPublicKey.toLowerCase() ? [{ id: member.id, url: node.url }] : [];
  });
}

/** An operator as `GET /v1/operators` lists it: chain membership and stake, and its signer node at the gateway. */
export interface OperatorListing {
  id: string;
  blsPublicKey: Hex;
  /** Stake at the listed registry block ("0": not a member). */
  stake: string;
  node: Omit<SignerNodeRecord, 'id' | 'blsPublicKey'> | null;
}

/** The members of `registry` and the registered signer nodes, by id (members first, in registry order). */
export async function listOperators(db: D1Database, registry: OperatorRegistry | null): Promise<OperatorListing[]> {
  const nodes = await listSignerNodes(db);
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const nodeOf = (id: string): OperatorListing['node'] => {
    const n = byId.get(id);
    return n ? { proofOfPossession: n.proofOfPossession, address: n.address, url: n.url, registeredAt: n.registeredAt } : null;
  };
  const members = registry ? activeOperators(registry) : [];
  const listed: OperatorListing[] = members.map((m) => ({ id: m.id, blsPublicKey: m.blsPublicKey, stake: String(m.stake), node: nodeOf(m.id) }));
  for (const n of nodes) {
    if (!members.some((m) => m.id === n.id)) listed.push({ id: n.id, blsPublicKey: n.blsPublicKey, stake: '0', node: nodeOf(n.id) });
  }
  return listed;
}
