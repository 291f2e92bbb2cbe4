/** Off-chain AttestationValidator: checks an attestation before the protected action runs. */
import { hexToBytes, type Address, type Hex } from 'viem';
import { attestationSchema, type Attestation } from './attestation';
import { computeAttestationDigest } from './attestation-digest';
import type { G1Point } from './bls-keys';
import { aggregatePublicKeys, decodeSignature, verifySignature } from './bls-signatures';
import { computeIntentHash } from './intent-hash';
import { activeOperators, operatorPublicKey, parseStake, type OperatorRegistry } from './operator-registry';
import { meetsQuorum } from './quorum';

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
  | 'not_allowed'
  | 'no_signers'
  | 'duplicate_signer'
  | 'unknown_signer'
  | 'inactive_signer'
  | 'non_signers_mismatch'
  | 'invalid_registry'
  | 'signed_stake_mismatch'
  | 'total_stake_mismatch'
  | 'threshold_too_low'
  | 'quorum_not_met'
  | 'invalid_signer_key'
  | 'malformed_signature'
  | 'invalid_signature'
  | 'already_consumed';

/** Default minimum quorum (2/3 of stake, rounded up) when the verifier states none. */
export const DEFAULT_MIN_THRESHOLD_BPS = 6667;

/** What the verifier itself expects; the attestation's claims are checked against these. */
export type VerifyAttestationOptions = {
  /** Current time in unix seconds. */
  now: bigint;
  expectedChainId?: number;
  expectedPolicyId?: Hex;
  expectedPolicyClient?: Address;
  expectedPolicyDataHash?: Hex;
  /**
   * The attestation's thresholdBps is not signed, so the verifier sets the floor
   * (default DEFAULT_MIN_THRESHOLD_BPS); quorum uses max(attestation, floor).
   */
  minThresholdBps?: number;
  /** Whether a deny verdict (allowed = false) is refused; true by default. */
  requireAllowed?: boolean;
  /** Single-use check: true when this digest was already consumed. Marking it is the caller's job. */
  consumed?: (digest: Hex) => boolean;
};

/** Verdict of verifyAttestation; `reasons` is empty exactly when `valid` is true. */
export type AttestationVerification = { valid: boolean; reasons: AttestationRejection[] };

/**
 * Recomputes the intent hash and digest, checks expiry, chain, policy, signer set, stakes and
 * quorum against `registry`, and the aggregate BLS signature over the digest. The registry must
 * only hold keys admitted with a proof of possession (admitOperator).
 */
export function verifyAttestation(attestation: unknown, registry: OperatorRegistry, options: VerifyAttestationOptions): AttestationVerification {
  const parsed = attestationSchema.safeParse(attestation);
  if (!parsed.success) return { valid: false, reasons: ['malformed_attestation'] };
  const a = parsed.data;
  const reasons = new Set<AttestationRejection>();

  const digest = checkBinding(a, options, reasons);
  const signerKeys = checkSignerSet(a, registry, options, reasons);

  if (signerKeys !== undefined) checkSignature(signerKeys, digest, a.aggregateSignature, reasons);
  if (options.consumed?.(digest) === true) reasons.add('already_consumed');
  return { valid: reasons.size === 0, reasons: [...reasons] };
}

/** Checks hashes, time window, chain, policy and verdict; returns the recomputed digest. */
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
  if ((options.requireAllowed ?? true) && !a.allowed) reasons.add('not_allowed');
  return digest;
}

/**
 * Checks signers and non-signers against the registry and recomputes stakes and quorum;
 * returns the signers' keys when every signer is a known active operator with a valid key.
 */
function checkSignerSet(
  a: Attestation,
  registry: OperatorRegistry,
  options: VerifyAttestationOptions,
  reasons: Set<AttestationRejection>,
): G1Point[] | undefined {
  if (a.signers.length === 0) reasons.add('no_signers');
  if (new Set(a.signers).size !== a.signers.length) reasons.add('duplicate_signer');

  const active = activeOperators(registry);
  const activeIds = new Set(active.map((operator) => operator.id));
  const signerIds = new Set(a.signers);
  let keys: G1Point[] | undefined = [];
  for (const id of signerIds) {
    const operator = registry.operators.find((candidate) => candidate.id === id);
    if (operator === undefined) {
      reasons.add('unknown_signer');
      keys = undefined;
    } else if (!activeIds.has(id)) {
      reasons.add('inactive_signer');
      keys = undefined;
    } else if (keys !== undefined) {
      try {
        keys.push(operatorPublicKey(operator));
      } catch {
        reasons.add('invalid_signer_key');
        keys = undefined;
      }
    }
  }
  const expectedNonSigners = active.filter((operator) => !signerIds.has(operator.id)).map((o) => o.id);
  if (!sameIdSet(expectedNonSigners, a.nonSigners)) reasons.add('non_signers_mismatch');

  let signedStake = 0n;
  let totalStake = 0n;
  for (const operator of active) {
    const stake = parseStake(operator.stake);
    if (stake === undefined) {
      reasons.add('invalid_registry');
      return undefined;
    }
    totalStake += stake;
    if (signerIds.has(operator.id)) signedStake += stake;
  }
  if (BigInt(a.signedStake) !== signedStake) reasons.add('signed_stake_mismatch');
  if (BigInt(a.totalStake) !== totalStake) reasons.add('total_stake_mismatch');
  const floor = options.minThresholdBps ?? DEFAULT_MIN_THRESHOLD_BPS;
  if (a.thresholdBps < floor) reasons.add('threshold_too_low');
  if (!meetsQuorum(signedStake, totalStake, Math.max(a.thresholdBps, floor))) reasons.add('quorum_not_met');
  return keys !== undefined && keys.length > 0 ? keys : undefined;
}

/** Checks the aggregate signature over the recomputed digest (a claimed digest is never trusted). */
function checkSignature(signerKeys: readonly G1Point[], digest: Hex, aggregateSignature: Hex, reasons: Set<AttestationRejection>): void {
  const signature = hexToBytes(aggregateSignature);
  try {
    decodeSignature(signature);
  } catch {
    reasons.add('malformed_signature');
    return;
  }
  if (!verifySignature(aggregatePublicKeys(signerKeys), hexToBytes(digest), signature)) {
    reasons.add('invalid_signature');
  }
}

function sameHex(expected: string | undefined, actual: string): boolean {
  return expected === undefined || expected.toLowerCase() === actual.toLowerCase();
}

function sameIdSet(expected: readonly string[], actual: readonly string[]): boolean {
  const claimed = new Set(actual);
  return claimed.size === actual.length && claimed.size === expected.length && expected.every((id) => claimed.has(id));
}
