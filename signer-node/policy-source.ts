/**
 * Where a signer node gets the policies it evaluates: by id, from a URL (the gateway's
 * `GET /v1/policies/:id` by default, or any other mirror), and only content that hashes to the id.
 * The gateway can withhold a policy but never make a node evaluate another one under its id.
 */
import type { Hex } from 'viem';
import { ProofgateError } from '../core/errors';
import { verifiedPolicyContent, type PolicyContent } from '../core/operator-protocol';
import { compilePolicy, type CompiledPolicy } from '../core/rego';

/** A policy checked against its id, compiled. */
export interface VerifiedPolicy {
  content: PolicyContent;
  compiled: CompiledPolicy;
}

/** Fetches policies by id (`<baseUrl>/v1/policies/<id>`), checks each hashes to its id, and keeps them compiled. */
export class PolicySource {
  // A policy id is the hash of its content, so an entry never goes stale.
  private readonly entries = new Map<Hex, Promise<VerifiedPolicy>>();

  constructor(
    private readonly baseUrl: string,
    private readonly capacity = 64,
  ) {}

  /** The policy whose content hashes to `id`; throws `policy_content_mismatch` (422) for other content, `policy_unavailable` (502) when it cannot be fetched. */
  get(id: Hex): Promise<VerifiedPolicy> {
    const key = id.toLowerCase() as Hex;
    let entry = this.entries.get(key);
    if (!entry) {
      entry = this.fetchVerified(key);
      this.entries.set(key, entry);
      entry.catch(() => this.entries.delete(key)); // a failed fetch is retried by the next task
      if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    }
    return entry;
  }

  private async fetchVerified(id: Hex): Promise<VerifiedPolicy> {
    let json: unknown;
    try {
      const res = await fetch(`${this.baseUrl}/v1/policies/${id}`, { signal: AbortSignal.timeout(15_000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      json = await res.json();
    } catch (err) {
      throw new ProofgateError('policy_unavailable', `policy ${id} could not be fetched (${err instanceof Error ? err.message : String(err)})`, 502);
    }
    const content = await verifiedPolicyContent(id, json);
    return { content, compiled: compilePolicy(content.modules) };
  }
}
