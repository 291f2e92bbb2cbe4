/**
 * A policy's content and its id: sha256 of the canonical JSON of the content. Because the id is the
 * content's hash, a signer node can fetch a policy from any source, the gateway included, and know it
 * holds the real one; a task names its policy by id only.
 */
import { bytesToHex, type Hex } from 'viem';
import { z } from 'zod';
import { canonicalJson } from '../canonical-json';
import { ProofgateError } from '../errors';
import { bytes32Schema } from '../hex';

/** The hashed fields of a policy, exactly those `POST /v1/policies` hashes into the id. */
export const policyContentSchema = z.object({
  modules: z.record(z.string(), z.string()),
  entrypoint: z.string().min(1).max(256),
  params: z.unknown(),
  policyData: z.array(z.object({ name: z.string(), sha256: bytes32Schema })).max(16),
  thresholdBps: z.number().int().min(1).max(10_000),
});

/** A policy's content. */
export type PolicyContent = z.infer<typeof policyContentSchema>;

/** A policy's content does not hash to the id it was fetched under. */
export class PolicyContentMismatchError extends ProofgateError {
  constructor(id: string, actual: string) {
    super('policy_content_mismatch', `the content served for policy ${id} hashes to ${actual}`, 422);
  }
}

/** sha256 of the canonical JSON of the content (the policy id), lower-case hex. */
export async function computePolicyId(content: PolicyContent): Promise<Hex> {
  const { modules, entrypoint, params, policyData, thresholdBps } = content;
  const bytes = new TextEncoder().encode(canonicalJson({ modules, entrypoint, params, policyData, thresholdBps }));
  return bytesToHex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)));
}

/** Parses untrusted policy JSON and returns its content only if it hashes to `id`. */
export async function verifiedPolicyContent(id: Hex, json: unknown): Promise<PolicyContent> {
  const parsed = policyContentSchema.safeParse(json);
  if (!parsed.success) throw new PolicyContentMismatchError(id, 'nothing: it is not a policy');
  const content = parsed.data;
  const actual = await computePolicyId(content);
  if (actual !== id.toLowerCase()) throw new PolicyContentMismatchError(id, actual);
  return content;
}

/** Numeric PolicyData tolerance a policy declares in its params (`policyDataToleranceBps`), default exact. */
export function policyDataToleranceBps(params: unknown): number {
  const bps = typeof params === 'object' && params !== null ? (params as { policyDataToleranceBps?: unknown }).policyDataToleranceBps : undefined;
  return typeof bps === 'number' && Number.isInteger(bps) && bps >= 0 && bps <= 10_000 ? bps : 0;
}
