/** Off-chain AttestationValidator: checks an attestation before the protected action runs. */
import type { Address, Hex } from 'viem';
import { attestationSchema, type Attestation } from './attestation';
import { computeAttestationDigest } from './attestation-digest';
import type { BlsVerifier } from './bls-verifier';
import { computeIntentHash } from './intent-hash';
import type { OperatorRegistry } from './operator-registry';
import { checkQuorumSignature, type QuorumRejection } from './quorum-signature';

/** Stable machine-readable reasons why an attestation was refused. */
export type AttestationRejection =
  | 'malformed_attestation'
  | 'intent_chain_mismatch'
  | 'intent_hash_mismatch'
  | 'digest_mismatch'
  | 'expired'
  | 'chain_id_mismatch'
  | 'policy_id_mismatch'
  | 'policy_client_mismatch'
  | 'policy_data_hash_mismatch'
  | 'threshold_mismatch'
  | 'not_allowed'
  | 'already_consumed'
  | QuorumRejection;

/** What the verifier itself knows; the attestation's claims are checked against these. */
export type VerifyAttestationOptions = {
  /** Current time in unix seconds. */
  now: bigint;
  /**
   * The quorum of the attestation's policy, as the verifier knows the policy (its content, hence its
   * id, includes it): the attestation must have been signed with it, and quorum is judged by it.
   * What the attestation itself says about its threshold counts for nothing.
   */
  policyThresholdBps: number;
  expectedChainId?: number;
  expectedPolicyId?: Hex;
  expectedPolicyClient?: Address;
  expectedPolicyDataHash?: Hex;
  /** Whether a deny verdict (allowed = false) is refused; true by default. */
  requireAllowed?: boolean;
  /** Single-use check: true when this digest was already consumed. Marking it is the caller's job. */
  consumed?: (digest: Hex) => boolean;
  /** BLS implementation (default: @noble/curves); a runtime may bring a faster one with cached keys. */
  verifier?: BlsVerifier;
};

/** Verdict of verifyAttestation; `reasons` is empty exactly when `valid` is true. */
export type AttestationVerification = { valid: boolean; reasons: AttestationRejection[] };

/**
 * Recomputes the intent hash and digest, checks expiry, chain, policy, quorum threshold, signer set
 * and stakes against `registry` (which must be the snapshot the attestation names: the same
 * OperatorRegistry contract and block), and the aggregate BLS signature over the digest. The
 * registry must only hold keys admitted with a proof of possession.
 */
export function verifyAttestation(attestation: unknown, registry: OperatorRegistry, options: VerifyAttestationOptions): AttestationVerification {
  const parsed = attestationSchema.safeParse(attestation);
  if (!parsed.success) return { valid: false, reasons: ['malformed_attestation'] };
  const a = parsed.data;
  const reasons = new Set<AttestationRejection>();

  const digest = checkBinding(a, options, reasons);
  for (const reason of checkQuorumSignature(a, digest, registry, options.policyThresholdBps, options.verifier)) reasons.add(reason);
  if (options.consumed?.(digest) === true) reasons.add('already_consumed');
  return { valid: reasons.size === 0, reasons: [...reasons] };
}

/** Checks hashes, time window, chain, policy, threshold and verdict; returns the recomputed digest. */
function checkBinding(a: Attestation, options: VerifyAttestationOptions, reasons: Set<AttestationRejection>): Hex {
  if (a.intent.chainId !== a.chainId) reasons.add('intent_chain_mismatch');
  const intentHash = computeIntentHash(a.intent);
  if (intentHash !== a.intentHash.toLowerCase()) reasons.add('intent_hash_mismatch');
  const digest = computeAttestationDigest({ ...a, intentHash });
  if (digest !== a.digest.toLowerCase()) reasons.add('digest_mismatch');
  if (options.now > BigInt(a.expiration)) reasons.add('expired');
  if (options.expectedChainId !== undefined && a.chainId !== options.expectedChainId) {
    reasons.add('chain_id_mismatch');
  }
  if (!sameHex(options.expectedPolicyId, a.policyId)) reasons.add('policy_id_mismatch');
  if (!sameHex(options.expectedPolicyClient, a.policyClient)) reasons.add('policy_client_mismatch');
  if (!sameHex(options.expectedPolicyDataHash, a.policyDataHash)) reasons.add('policy_data_hash_mismatch');
  if (a.thresholdBps !== options.policyThresholdBps) reasons.add('threshold_mismatch');
  if ((options.requireAllowed ?? true) && !a.allowed) reasons.add('not_allowed');
  return digest;
}

function sameHex(expected: string | undefined, actual: string): boolean {
  return expected === undefined || expected.toLowerCase() === actual.toLowerCase();
}
