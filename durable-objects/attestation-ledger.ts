import { DurableObject } from 'cloudflare:workers';

/** Outcome of a consumption attempt. */
export type Consumption =
  /** `consumed`: true when this call consumed the attestation, false when it had been consumed before (at `consumedAt`, epoch ms). */
  | { consumed: boolean; consumedAt: number; expired?: undefined }
  /** The attestation had expired by this object's clock: nothing was recorded. */
  | { consumed: false; expired: true };

/**
 * Single use of attestations: one object per attestation digest, so the check-and-mark is atomic
 * (a Durable Object runs one call at a time) however many requests race, without one global lock.
 * An entry lives until its attestation expires, then erases itself (alarm): from then on the object
 * refuses the attestation as expired by its own clock, so forgetting it can never let it be used twice.
 */
export class AttestationLedger extends DurableObject<object> {
  /**
   * Marks the attestation used unless it expired (`validUntilMs`: epoch ms from which it is
   * expired); only the first call ever gets `consumed: true`.
   */
  async consume(validUntilMs: number): Promise<Consumption> {
    const now = Date.now();
    if (now >= validUntilMs) return { consumed: false, expired: true };
    const previous = await this.ctx.storage.get<number>('consumedAt');
    if (previous !== undefined) return { consumed: false, consumedAt: previous };
    await this.ctx.storage.put('consumedAt', now);
    await this.ctx.storage.setAlarm(validUntilMs);
    return { consumed: true, consumedAt: now };
  }

  /** When the attestation was consumed, or null (also once its entry was erased after expiry). */
  async consumedAt(): Promise<number | null> {
    return (await this.ctx.storage.get<number>('consumedAt')) ?? null;
  }

  /** The attestation has expired: forget it. */
  override async alarm(): Promise<void> {
    await this.ctx.storage.deleteAll();
  }
}

/** The ledger entry of one attestation digest. */
export function attestationLedger(ns: DurableObjectNamespace<AttestationLedger>, digest: string): DurableObjectStub<AttestationLedger> {
  return ns.get(ns.idFromName(digest.toLowerCase()));
}

/** Epoch ms from which an attestation with `expiration` (unix seconds, usable while now <= expiration) is expired. */
export function attestationValidUntilMs(expiration: number): number {
  return (expiration + 1) * 1000;
}
