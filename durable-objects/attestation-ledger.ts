import { DurableObject } from 'cloudflare:workers';

/** Outcome of a consumption attempt. */
export interface Consumption {
  /** True when this call consumed the attestation; false when it had been consumed before. */
  consumed: boolean;
  /** Epoch ms of the (first) consumption. */
  consumedAt: number;
}

/**
 * Single use of attestations: one object per attestation digest, so the check-and-mark is atomic
 * (a Durable Object runs one call at a time) however many requests race, without one global lock.
 */
export class AttestationLedger extends DurableObject<object> {
  /** Marks the attestation used; only the first call ever gets `consumed: true`. */
  async consume(nowMs: number): Promise<Consumption> {
    const previous = await this.ctx.storage.get<number>('consumedAt');
    if (previous !== undefined) return { consumed: false, consumedAt: previous };
    await this.ctx.storage.put('consumedAt', nowMs);
    return { consumed: true, consumedAt: nowMs };
  }

  /** When the attestation was consumed, or null. */
  async consumedAt(): Promise<number | null> {
    return (await this.ctx.storage.get<number>('consumedAt')) ?? null;
  }
}

/** The ledger entry of one attestation digest. */
export function attestationLedger(ns: DurableObjectNamespace<AttestationLedger>, digest: string): DurableObjectStub<AttestationLedger> {
  return ns.get(ns.idFromName(digest.toLowerCase()));
}
