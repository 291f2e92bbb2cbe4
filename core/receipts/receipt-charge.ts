import type { PriceTerms } from './inference-receipt';

// The one pricing formula, shared by the backend (which signs the charge), the gateway (which checks
// it before settling) and offline verifiers: integers only, so every party computes the same amount.

const UINT256 = /^(0|[1-9][0-9]{0,77})$/;
const UINT256_MAX = (1n << 256n) - 1n;

/** True for a decimal string that is a uint256 (no sign, no leading zeros). */
export function isUint256Decimal(value: unknown): value is string {
  return typeof value === 'string' && UINT256.test(value) && BigInt(value) <= UINT256_MAX;
}

/** True for terms whose three amounts are uint256 decimals with the base at most the cap. */
export function isPriceTerms(terms: PriceTerms): boolean {
  return (
    isUint256Decimal(terms.priceBase) &&
    isUint256Decimal(terms.pricePerMs) &&
    isUint256Decimal(terms.priceCap) &&
    BigInt(terms.priceBase) <= BigInt(terms.priceCap)
  );
}

/**
 * What a call costs under `terms` when it ran `runMs` whole milliseconds: `min(priceCap, priceBase +
 * pricePerMs × runMs)`, in atomic units, as a decimal string. A fixed price P (`{P, 0, P}`) costs P
 * whatever the run time; a free call (all 0) costs 0.
 */
export function receiptCharge(terms: PriceTerms, runMs: number): string {
  if (!Number.isSafeInteger(runMs) || runMs < 0) throw new Error('runMs must be a non-negative integer');
  const cost = BigInt(terms.priceBase) + BigInt(terms.pricePerMs) * BigInt(runMs);
  const cap = BigInt(terms.priceCap);
  return (cost < cap ? cost : cap).toString();
}
