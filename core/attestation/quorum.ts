/** Stake-weighted quorum arithmetic shared by the off-chain verifier and AttestationValidator.sol. */

/** Basis-point denominator of quorum thresholds (10000 = 100 %). */
export const BPS_DENOMINATOR = 10_000n;

/** True when signedStake * 10000 >= totalStake * thresholdBps and there is stake at all. */
export function meetsQuorum(signedStake: bigint, totalStake: bigint, thresholdBps: number): boolean {
  if (totalStake <= 0n) return false;
  return signedStake * BPS_DENOMINATOR >= totalStake * BigInt(thresholdBps);
}
