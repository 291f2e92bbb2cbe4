import { and, desc, eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import type { Hex } from 'viem';
import { InvalidRequestError, ProofgateError } from '../../core/errors';
import { readModelSignature, type TensorSpec } from '../../core/onnx';
import { sha256Hex } from '../../core/tensors';
import { modelVersions } from '../../schema';

/** A model version as the API shows it. */
export interface ModelVersion {
  name: string;
  version: number;
  sha256: Hex;
  size: number;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  price: string;
  settlement: 'sync' | 'async';
  createdAt: string;
}

/** The named model (or version) is not in the hub. */
export class ModelNotFoundError extends ProofgateError {
  constructor(name: string, version?: number) {
    super('model_not_found', version === undefined ? `no model named "${name}"` : `model "${name}" has no version ${version}`, 404, { model: name });
  }
}

const MODEL_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Checks a model name: lower-case letters, digits, '.', '_' and '-', at most 64 characters. */
export function checkModelName(name: string): string {
  if (!MODEL_NAME.test(name)) {
    throw new InvalidRequestError(
      'invalid_model_name',
      'model names are 1-64 characters of a-z, 0-9, ".", "_" and "-", starting with a letter or digit',
    );
  }
  return name;
}

/** Checks a price: a non-negative integer in atomic units, as a decimal string. */
export function checkPrice(price: string | null | undefined): string {
  const p = price ?? '0';
  if (!/^(0|[1-9][0-9]{0,77})$/.test(p)) throw new InvalidRequestError('invalid_price', 'price must be a non-negative integer in atomic token units');
  return p;
}

/** Checks a settlement mode: `sync` (settle before returning the result, the default) or `async`. */
export function checkSettlement(mode: string | null | undefined): 'sync' | 'async' {
  const m = mode ?? 'sync';
  if (m !== 'sync' && m !== 'async') throw new InvalidRequestError('invalid_settlement', 'settlement must be "sync" or "async"');
  return m;
}

/** R2 key of a model's bytes. */
export function modelObjectKey(sha256: string): string {
  return `models/${sha256}`;
}

type Row = typeof modelVersions.$inferSelect;

function toModelVersion(row: Row): ModelVersion {
  return {
    name: row.name,
    version: row.version,
    sha256: row.sha256 as Hex,
    size: row.size,
    inputs: JSON.parse(row.inputs) as TensorSpec[],
    outputs: JSON.parse(row.outputs) as TensorSpec[],
    price: row.price,
    settlement: row.settlement,
    createdAt: new Date(row.createdAt).toISOString(),
  };
}

/**
 * Publishes ONNX bytes as the next version of `name`. Idempotent: bytes, price and settlement equal
 * to an existing version of the name return that version (`created: false`). Bytes are stored in R2
 * before the version row exists, so a listed version always has its bytes.
 */
export async function publishModel(
  db: D1Database,
  bucket: R2Bucket,
  name: string,
  bytes: Uint8Array,
  price: string,
  settlement: 'sync' | 'async',
  nowMs: number,
): Promise<{ model: ModelVersion; created: boolean }> {
  checkModelName(name);
  checkPrice(price);
  if (bytes.byteLength === 0) throw new InvalidRequestError('invalid_model', 'model body is empty');
  const signature = readModelSignature(bytes);
  const sha256 = await sha256Hex(bytes);
  const orm = drizzle(db);
  const same = await orm
    .select()
    .from(modelVersions)
    .where(
      and(eq(modelVersions.name, name), eq(modelVersions.sha256, sha256), eq(modelVersions.price, price), eq(modelVersions.settlement, settlement)),
    )
    .orderBy(desc(modelVersions.version))
    .limit(1);
  if (same[0]) return { model: toModelVersion(same[0]), created: false };

  const key = modelObjectKey(sha256);
  if (!(await bucket.head(key))) await bucket.put(key, bytes, { sha256: sha256.slice(2), httpMetadata: { contentType: 'application/octet-stream' } });

  // The version number is computed inside the INSERT so concurrent uploads cannot take the same one;
  // the primary key (name, version) rejects the loser, which simply tries again.
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const inserted = await orm
        .insert(modelVersions)
        .select(
          orm
            .select({
              name: sql<string>`${name}`.as('name'),
              version: sql<number>`coalesce(max(${modelVersions.version}), 0) + 1`.as('version'),
              sha256: sql<string>`${sha256}`.as('sha256'),
              size: sql<number>`${bytes.byteLength}`.as('size'),
              inputs: sql<string>`${JSON.stringify(signature.inputs)}`.as('inputs'),
              outputs: sql<string>`${JSON.stringify(signature.outputs)}`.as('outputs'),
              price: sql<string>`${price}`.as('price'),
              settlement: sql<'sync' | 'async'>`${settlement}`.as('settlement'),
              createdAt: sql<number>`${nowMs}`.as('created_at'),
            })
            .from(modelVersions)
            .where(eq(modelVersions.name, name)),
        )
        .returning();
      return { model: toModelVersion(inserted[0]!), created: true };
    } catch (err) {
      if (!String(err).includes('UNIQUE') && !String(err).includes('PRIMARY KEY')) throw err;
    }
  }
  throw new ProofgateError('conflict', 'too many concurrent uploads of this model; try again', 409);
}

/** The latest version of every model, by name. */
export async function listModels(db: D1Database): Promise<ModelVersion[]> {
  const rows = await drizzle(db)
    .select()
    .from(modelVersions)
    .where(sql`${modelVersions.version} = (select max(m2.version) from model_versions m2 where m2.name = ${modelVersions.name})`)
    .orderBy(modelVersions.name);
  return rows.map(toModelVersion);
}

/** Every version of a model, newest first; throws ModelNotFoundError when there is none. */
export async function listModelVersions(db: D1Database, name: string): Promise<ModelVersion[]> {
  const rows = await drizzle(db).select().from(modelVersions).where(eq(modelVersions.name, name)).orderBy(desc(modelVersions.version));
  if (rows.length === 0) throw new ModelNotFoundError(name);
  return rows.map(toModelVersion);
}

/** One version of a model (the latest when `version` is undefined). */
export async function getModelVersion(db: D1Database, name: string, version?: number): Promise<ModelVersion> {
  const where = version === undefined ? eq(modelVersions.name, name) : and(eq(modelVersions.name, name), eq(modelVersions.version, version));
  const rows = await drizzle(db).select().from(modelVersions).where(where).orderBy(desc(modelVersions.version)).limit(1);
  if (!rows[0]) throw new ModelNotFoundError(name, version);
  return toModelVersion(rows[0]);
}

/** Whether any model version has these bytes (only those are served as blobs). */
export async function isPublishedSha256(db: D1Database, sha256: string): Promise<boolean> {
  const rows = await drizzle(db).select({ v: modelVersions.version }).from(modelVersions).where(eq(modelVersions.sha256, sha256)).limit(1);
  return rows.length > 0;
}
