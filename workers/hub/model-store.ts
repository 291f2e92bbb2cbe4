import { and, desc, eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import type { Hex } from 'viem';
import { InvalidRequestError, ProofgateError } from '../../core/errors';
import type { ModelSignature, TensorSpec } from '../../core/onnx';
import { isUint256Decimal } from '../../core/receipts';
import { modelVersions } from '../../schema';
import { checkQuorumTerms, toleranceText, type QuorumTerms } from './quorum-terms';

/** A model version as the API shows it. */
export interface ModelVersion {
  name: string;
  version: number;
  sha256: Hex;
  size: number;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** Atomic units of the payment asset: the price of a call, or a metered call's cap. "0" is free. */
  price: string;
  settlement: 'sync' | 'async';
  /** `fixed`: a call costs `price`; `metered`: `min(price, base + ratePerMs × run time in ms)`. */
  pricing: 'fixed' | 'metered';
  /** A metered call's price per millisecond of backend run time ("0" when fixed). */
  ratePerMs: string;
  /** A metered call's price before its run time ("0" when fixed). */
  base: string;
  /** Quorum inference: the quorum an attestation of its outputs needs and the tolerance of agreement (quorum-terms.ts). */
  quorum: QuorumTerms;
  createdAt: string;
}

/** How a version is priced when published: `price` and `settlement`, or, metered, a rate, a base and `price` as the cap. */
export type PublishTerms = Pick<ModelVersion, 'price' | 'settlement' | 'pricing' | 'ratePerMs' | 'base' | 'quorum'>;

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

/** Checks a price: a non-negative integer in atomic units, as a decimal string (a uint256). */
export function checkPrice(price: string | null | undefined): string {
  const p = price ?? '0';
  if (!isUint256Decimal(p)) throw new InvalidRequestError('invalid_price', 'price must be a non-negative integer in atomic token units');
  return p;
}

/**
 * The pricing terms of a publish request's query: `?price=N` (fixed, the default; 0 is free), or
 * `?pricing=metered&ratePerMs=R&base=B&cap=C` (R > 0 per millisecond of backend run time, B ≥ 0,
 * C > 0 and ≥ B), each with `settlement=sync|async`. A parameter of the other kind is refused.
 */
export function checkPublishTerms(query: URLSearchParams): PublishTerms {
  const settlement = checkSettlement(query.get('settlement'));
  const quorum = checkQuorumTerms(query);
  const pricing = query.get('pricing') ?? 'fixed';
  if (pricing === 'fixed') {
    if (['ratePerMs', 'base', 'cap'].some((k) => query.has(k))) {
      throw new InvalidRequestError('invalid_pricing', 'ratePerMs, base and cap are for pricing=metered');
    }
    return { price: checkPrice(query.get('price')), settlement, pricing, ratePerMs: '0', base: '0', quorum };
  }
  if (pricing !== 'metered') throw new InvalidRequestError('invalid_pricing', 'pricing must be "fixed" or "metered"');
  if (query.has('price')) throw new InvalidRequestError('invalid_pricing', 'a metered model takes ratePerMs, base and cap, not price');
  const amount = (key: string, fallback?: string): bigint => {
    const value = query.get(key) ?? fallback;
    if (value === undefined || !isUint256Decimal(value)) {
      throw new InvalidRequestError('invalid_pricing', `${key} must be a non-negative integer in atomic token units`);
    }
    return BigInt(value);
  };
  const ratePerMs = amount('ratePerMs');
  const base = amount('base', '0');
  const cap = amount('cap');
  if (ratePerMs === 0n)
    throw new InvalidRequestError('invalid_pricing', 'a metered model needs ratePerMs > 0 (a price that does not depend on run time is fixed)');
  if (cap === 0n || base > cap) throw new InvalidRequestError('invalid_pricing', 'cap must be above 0 and at least base');
  return { price: cap.toString(), settlement, pricing, ratePerMs: ratePerMs.toString(), base: base.toString(), quorum };
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
    pricing: row.pricing,
    ratePerMs: row.pricePerMs,
    base: row.priceBase,
    quorum: {
      thresholdBps: row.quorumThresholdBps,
      tolerance: { absolute: Number(row.toleranceAbsolute), relative: Number(row.toleranceRelative) },
    },
    createdAt: new Date(row.createdAt).toISOString(),
  };
}

/**
 * Records inspected model bytes as the next version of `name`. Idempotent: bytes and terms (price,
 * settlement, pricing) equal to an existing version of the name return that version (`created: false`). The
 * bytes must already be in R2 at modelObjectKey(sha256) (model-upload.ts puts them there first), so
 * a listed version always has its bytes.
 */
export async function publishModel(
  db: D1Database,
  name: string,
  inspected: { sha256: Hex; size: number; signature: ModelSignature },
  terms: PublishTerms,
  nowMs: number,
): Promise<{ model: ModelVersion; created: boolean }> {
  checkModelName(name);
  const { price, settlement, pricing, ratePerMs, base, quorum } = terms;
  checkPrice(price);
  const { sha256, size, signature } = inspected;
  const orm = drizzle(db);
  const same = await orm
    .select()
    .from(modelVersions)
    .where(
      and(
        eq(modelVersions.name, name),
        eq(modelVersions.sha256, sha256),
        eq(modelVersions.price, price),
        eq(modelVersions.settlement, settlement),
        eq(modelVersions.pricing, pricing),
        eq(modelVersions.pricePerMs, ratePerMs),
        eq(modelVersions.priceBase, base),
        eq(modelVersions.quorumThresholdBps, quorum.thresholdBps),
        eq(modelVersions.toleranceAbsolute, toleranceText(quorum.tolerance.absolute)),
        eq(modelVersions.toleranceRelative, toleranceText(quorum.tolerance.relative)),
      ),
    )
    .orderBy(desc(modelVersions.version))
    .limit(1);
  if (same[0]) return { model: toModelVersion(same[0]), created: false };

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
              size: sql<number>`${size}`.as('size'),
              inputs: sql<string>`${JSON.stringify(signature.inputs)}`.as('inputs'),
              outputs: sql<string>`${JSON.stringify(signature.outputs)}`.as('outputs'),
              price: sql<string>`${price}`.as('price'),
              settlement: sql<'sync' | 'async'>`${settlement}`.as('settlement'),
              createdAt: sql<number>`${nowMs}`.as('created_at'),
              pricing: sql<'fixed' | 'metered'>`${pricing}`.as('pricing'),
              pricePerMs: sql<string>`${ratePerMs}`.as('price_per_ms'),
              priceBase: sql<string>`${base}`.as('price_base'),
              quorumThresholdBps: sql<number>`${quorum.thresholdBps}`.as('quorum_threshold_bps'),
              toleranceAbsolute: sql<string>`${toleranceText(quorum.tolerance.absolute)}`.as('tolerance_absolute'),
              toleranceRelative: sql<string>`${toleranceText(quorum.tolerance.relative)}`.as('tolerance_relative'),
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

/** How calls to a model are priced now: the pricing fields of its latest version. */
export type LatestTerms = Pick<ModelVersion, 'price' | 'settlement' | 'pricing' | 'ratePerMs' | 'base'>;

// The one D1 read on every inference call (the price is never cached), so it selects the pricing
// columns only, with a statement drizzle builds once per database binding: building the query and
// reading the whole row (its JSON tensor specs) cost ~2 ms of CPU per call when profiled in workerd.
const latestTermsQueries = new WeakMap<D1Database, ReturnType<typeof prepareLatestTerms>>();

function prepareLatestTerms(db: D1Database) {
  return drizzle(db)
    .select({
      price: modelVersions.price,
      settlement: modelVersions.settlement,
      pricing: modelVersions.pricing,
      ratePerMs: modelVersions.pricePerMs,
      base: modelVersions.priceBase,
    })
    .from(modelVersions)
    .where(eq(modelVersions.name, sql.placeholder('name')))
    .orderBy(desc(modelVersions.version))
    .limit(1)
    .prepare();
}

/** The pricing terms of the latest version of `name`, read from D1 now; ModelNotFoundError when there is none. */
export async function getLatestTerms(db: D1Database, name: string): Promise<LatestTerms> {
  let query = latestTermsQueries.get(db);
  if (!query) {
    query = prepareLatestTerms(db);
    latestTermsQueries.set(db, query);
  }
  const row = await query.get({ name });
  if (!row) throw new ModelNotFoundError(name, undefined);
  return row;
}

/** Whether any model version has these bytes (only those are served as blobs). */
export async function isPublishedSha256(db: D1Database, sha256: string): Promise<boolean> {
  const rows = await drizzle(db).select({ v: modelVersions.version }).from(modelVersions).where(eq(modelVersions.sha256, sha256)).limit(1);
  return rows.length > 0;
}
