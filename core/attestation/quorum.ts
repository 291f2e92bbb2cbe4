/** Stake-weighted quorum arithmetic shared by the off-chain verifier and AttestationValidator.sol. */

/** Basis-point denominator of quorum thresholds (10000 = 100 %). */
export const BPS_DENOMINATOR = 10_000n;

/**
 * True when signedStake * 10000 >= totalStake * thresholdBps, with stake on both sides and a
 * threshold in [1, 10000]: zero total stake, zero signed stake and an empty registry never make a quorum.
 */
export function meetsQuorum(signedStake: bigint, totalStake: bigint, thresholdBps: number): boolean {
  if (totalStake <= 0n || signedStake <= 0n) return false;
  if (!Number.isInteger(thresholdBps) || thresholdBps < 1 || thresholdBps > 10_000) return false;
  return signedStake * BPS_DENOMINATOR >= totalStake * BigInt(thresholdBps);
}
