import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { bytesToHex, type Hex } from 'viem';
import { z } from 'zod';
import { canonicalJson } from '../../core/canonical-json';
import { InvalidRequestError, ProofgateError } from '../../core/errors';
import { bytes32Schema } from '../../core/hex';
import { compilePolicy, RegoCompileError } from '../../core/rego';
import { modelPolicies, policies } from '../../schema';
import { getModelVersion } from '../hub/model-store';

/** A policy as stored and served. */
export interface StoredPolicy {
  id: Hex;
  modules: Record<string, string>;
  entrypoint: string;
  params: unknown;
  policyData: { name: string; sha256: Hex }[];
  thresholdBps: number;
  createdAt: string;
}

/** Quorum threshold of a policy without one (basis points of total stake). */
export const DEFAULT_THRESHOLD_BPS = 6700;

/** No policy with that id. */
export class PolicyNotFoundError extends ProofgateError {
  constructor(id: string) {
    super('policy_not_found', `no policy ${id}`, 404);
  }
}

/** Rego that does not compile: the messages are OPA's, with file:row:col. */
export class InvalidPolicyError extends ProofgateError {
  constructor(err: RegoCompileError) {
    super('invalid_policy', err.message, 400, { errors: err.errors.map((e) => ({ code: e.code, message: e.message, location: e.location })) });
  }
}

const ENTRYPOINT = /^data(\.[A-Za-z_][A-Za-z0-9_]*)+$/;

/** Body of `POST /v1/policies`. */
export const policyBody = z.object({
  modules: z
    .record(z.string().regex(/^[A-Za-z0-9_./-]{1,128}\.rego$/, 'module names end in .rego'), z.string().max(256 * 1024))
    .refine((m) => Object.keys(m).length > 0 && Object.keys(m).length <= 32, '1 to 32 modules'),
  entrypoint: z.string().regex(ENTRYPOINT, 'a package path such as data.proofgate.admission').default('data.proofgate.admission'),
  params: z.unknown().default({}),
  policyData: z
    .array(
      z.object({
        name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/),
        sha256: bytes32Schema,
      }),
    )
    .max(16)
    .default([]),
  thresholdBps: z.number().int().min(1).max(10_000).default(DEFAULT_THRESHOLD_BPS),
});

/** The policy body as submitted: validated, with defaults filled in. */
export type PolicyContent = z.infer<typeof policyBody>;

/** Checks what the schema cannot (unique PolicyData names, 400 `invalid_request`) and compiles the Rego (400 `invalid_policy`). */
export function checkPolicy(content: PolicyContent): PolicyContent {
  const names = content.policyData.map((p) => p.name);
  if (new Set(names).size !== names.length) throw new InvalidRequestError('invalid_request', 'policyData names must be unique');
  try {
    compilePolicy(content.modules);
  } catch (err) {
    if (err instanceof RegoCompileError) throw new InvalidPolicyError(err);
    throw err;
  }
  return content;
}

/** The policy id: sha256 of the canonical JSON of its content. */
export async function policyId(content: PolicyContent): Promise<Hex> {
  const bytes = new TextEncoder().encode(canonicalJson(content));
  return bytesToHex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)));
}

/** Stores a policy (idempotent: the same content is the same id). */
export async function createPolicy(db: D1Database, body: PolicyContent, nowMs: number): Promise<{ policy: StoredPolicy; created: boolean }> {
  const content = checkPolicy(body);
  const id = await policyId(content);
  const inserted = await drizzle(db)
    .insert(policies)
    .values({
      id,
      modules: JSON.stringify(content.modules),
      entrypoint: content.entrypoint,
      params: JSON.stringify(content.params ?? {}),
      policyData: JSON.stringify(content.policyData),
      thresholdBps: content.thresholdBps,
      createdAt: nowMs,
    })
    .onConflictDoNothing()
    .returning({ id: policies.id });
  return { policy: await getPolicy(db, id), created: inserted.length > 0 };
}

/** Loads a policy by id. */
export async function getPolicy(db: D1Database, id: string): Promise<StoredPolicy> {
  const rows = await drizzle(db).select().from(policies).where(eq(policies.id, id.toLowerCase())).limit(1);
  const r = rows[0];
  if (!r) throw new PolicyNotFoundError(id);
  return {
    id: r.id as Hex,
    modules: JSON.parse(r.modules) as Record<string, string>,
    entrypoint: r.entrypoint,
    params: JSON.parse(r.params) as unknown,
    policyData: JSON.parse(r.policyData) as StoredPolicy['policyData'],
    thresholdBps: r.thresholdBps,
    createdAt: new Date(r.createdAt).toISOString(),
  };
}

/** How long an isolate keeps a model's policy binding before reading it again. */
export const BINDING_TTL_MS = 5_000;
const bindings = new Map<string, { id: Hex | null; at: number }>();

/**
 * The id of the policy bound to a model, cached in the isolate for BINDING_TTL_MS (a binding
 * changed in this isolate is seen at once; elsewhere within the TTL).
 */
export async function cachedModelPolicyId(db: D1Database, model: string, nowMs: number): Promise<Hex | null> {
  const cached = bindings.get(model);
  if (cached && nowMs - cached.at < BINDING_TTL_MS) return cached.id;
  const id = await modelPolicyId(db, model);
  bindings.set(model, { id, at: nowMs });
  if (bindings.size > 4096) bindings.delete(bindings.keys().next().value!);
  return id;
}

/** Binds a policy to a model name (replacing any previous binding). */
export async function bindModelPolicy(db: D1Database, model: string, id: string, nowMs: number): Promise<void> {
  await getModelVersion(db, model);
  await getPolicy(db, id);
  await drizzle(db)
    .insert(modelPolicies)
    .values({ model, policyId: id.toLowerCase(), createdAt: nowMs })
    .onConflictDoUpdate({ target: modelPolicies.model, set: { policyId: id.toLowerCase(), createdAt: nowMs } });
  bindings.delete(model);
}

/** Removes a model's policy binding; true when there was one. */
export async function unbindModelPolicy(db: D1Database, model: string): Promise<boolean> {
  const removed = await drizzle(db).delete(modelPolicies).where(eq(modelPolicies.model, model)).returning({ model: modelPolicies.model });
  bindings.delete(model);
  return removed.length > 0;
}

/** The id of the policy bound to a model, or null. */
export async function modelPolicyId(db: D1Database, model: string): Promise<Hex | null> {
  const rows = await drizzle(db).select({ id: modelPolicies.policyId }).from(modelPolicies).where(eq(modelPolicies.model, model)).limit(1);
  return (rows[0]?.id as Hex | undefined) ?? null;
}
