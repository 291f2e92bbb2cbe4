import { drizzle } from 'drizzle-orm/d1';
import { eq } from 'drizzle-orm';
import { bytesToHex, type Hex } from 'viem';
import { InvalidRequestError, ProofgateError } from '../../core/errors';
import { isSha256Id } from '../../core/hex';
import { policyDataModules } from '../../schema';

/** R2 key of a PolicyData module's bytes. */
export function policyDataObjectKey(sha256: string): string {
  return `policy-data/${sha256.toLowerCase()}`;
}

/** No PolicyData module has that sha256. */
export class PolicyDataNotFoundError extends ProofgateError {
  constructor(sha256: string) {
    super('policy_data_not_found', `no PolicyData module has sha256 ${sha256}`, 404);
  }
}

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];
/** The four bytes after the magic: a core module's version, or a component's version and layer. */
const BINARY_KINDS: readonly { kind: PolicyDataKind; bytes: readonly number[] }[] = [
  { kind: 'core-module', bytes: [0x01, 0x00, 0x00, 0x00] },
  { kind: 'component', bytes: [0x0d, 0x00, 0x01, 0x00] },
];

/** A PolicyData binary: a core module (Proofgate's ABI v1) or a component of Newton's `newton:provider` world. */
export type PolicyDataKind = 'core-module' | 'component';

/**
 * Stores a PolicyData binary by content (idempotent). Only the header is checked here (a core
 * module or a component): Workers cannot compile WebAssembly at run time, so the ABI and world
 * checks happen on operators.
 */
export async function storePolicyData(
  db: D1Database,
  bucket: R2Bucket,
  bytes: Uint8Array,
  nowMs: number,
): Promise<{ sha256: Hex; size: number; kind: PolicyDataKind; created: boolean }> {
  if (bytes.byteLength < 8 || WASM_MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new InvalidRequestError('invalid_wasm', 'body is not a WebAssembly binary (missing \\0asm header)');
  }
  const kind = BINARY_KINDS.find((k) => k.bytes.every((b, i) => bytes[4 + i] === b))?.kind;
  if (!kind) throw new InvalidRequestError('invalid_wasm', 'body is neither a WebAssembly core module (version 1) nor a component (layer 1)');
  const sha256 = bytesToHex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)));
  const key = policyDataObjectKey(sha256);
  if (!(await bucket.head(key))) await bucket.put(key, bytes, { sha256: sha256.slice(2), httpMetadata: { contentType: 'application/wasm' } });
  const inserted = await drizzle(db)
    .insert(policyDataModules)
    .values({ sha256, size: bytes.byteLength, createdAt: nowMs })
    .onConflictDoNothing()
    .returning({ sha256: policyDataModules.sha256 });
  return { sha256, size: bytes.byteLength, kind, created: inserted.length > 0 };
}

/** The bytes of a stored PolicyData module. */
export async function getPolicyData(db: D1Database, bucket: R2Bucket, sha256: string): Promise<R2ObjectBody> {
  const id = sha256.toLowerCase();
  if (!isSha256Id(id)) throw new InvalidRequestError('invalid_sha256', 'expected 0x followed by 64 hex digits');
  const rows = await drizzle(db).select().from(policyDataModules).where(eq(policyDataModules.sha256, id)).limit(1);
  const object = rows.length ? await bucket.get(policyDataObjectKey(id)) : null;
  if (!object) throw new PolicyDataNotFoundError(id);
  return object;
}
