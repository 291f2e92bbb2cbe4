/**
 * The part of verifying an attestation that every kind shares (intent verdicts now, inference
 * results next): the signers and non-signers against the registry snapshot the attestation names,
 * the stakes and the quorum recomputed under the policy's threshold (zero stake is no membership;
 * zero total stake is never a quorum), and the aggregate BLS signature over the recomputed digest.
 * AttestationValidator.verifyQuorum is its on-chain twin.
 */
import { hexToBytes, type Address, type Hex } from 'viem';
import { nobleBlsVerifier, type BlsVerifier } from './bls-verifier';
import { activeOperators, parseStake, sameSnapshot, type OperatorRegistry } from './operator-registry';
import { meetsQuorum } from './quorum';

/** Why the quorum part of an attestation does not hold. */
export type QuorumRejection =
  | 'registry_snapshot_mismatch'
  | 'no_signers'
  | 'duplicate_signer'
  | 'unknown_signer'
  | 'non_signers_mismatch'
  | 'invalid_registry'
  | 'signed_stake_mismatch'
  | 'total_stake_mismatch'
  | 'quorum_not_met'
  | 'invalid_signer_key'
  | 'invalid_signature';

/** What an attestation claims about its quorum (its own numbers are checked, never trusted). */
export interface QuorumClaim {
  signers: readonly string[];
  nonSigners: readonly string[];
  signedStake: string;
  totalStake: string;
  aggregateSignature: Hex;
  registry: Address;
  registryBlock: number;
}

/**
 * Checks a quorum claim over `digest` (recomputed by the caller from the signed fields, never the
 * claimed one) against `registry`, which must be the snapshot the claim names, under the policy's
 * `policyThresholdBps`; returns every reason it does not hold (none: it holds).
 */
export function checkQuorumSignature(
  claim: QuorumClaim,
  digest: Hex,
  registry: OperatorRegistry,
  policyThresholdBps: number,
  verifier: BlsVerifier = nobleBlsVerifier,
): QuorumRejection[] {
  const reasons = new Set<QuorumRejection>();
  if (!sameSnapshot(registry, { address: claim.registry, blockNumber: claim.registryBlock })) reasons.add('registry_snapshot_mismatch');
  const signerKeys = checkSignerSet(claim, registry, policyThresholdBps, reasons);
  if (signerKeys !== undefined) checkSignature(verifier, signerKeys, digest, claim.aggregateSignature, reasons);
  return [...reasons];
}

/**
 * Checks signers and non-signers against the snapshot's members (positive stake) and recomputes
 * stakes and the quorum under the policy's threshold; returns the signers' keys when every signer
 * is a member.
 */
function checkSignerSet(a: QuorumClaim, registry: OperatorRegistry, policyThresholdBps: number, reasons: Set<QuorumRejection>): Hex[] | undefined {
  if (a.signers.length === 0) reasons.add('no_signers');
  if (new Set(a.signers).size !== a.signers.length) reasons.add('duplicate_signer');
  if (registry.operators.some((operator) => parseStake(operator.stake) === undefined)) {
    reasons.add('invalid_registry');
    return undefined;
  }

  // Zero-stake operators are not members: a signature of theirs is an unknown signer's.
  const members = new Map(activeOperators(registry).map((operator) => [operator.id, operator]));
  const signerIds = new Set(a.signers);
  let keys: Hex[] | undefined = [];
  for (const id of signerIds) {
    const operator = members.get(id);
    if (operator === undefined) {
      reasons.add('unknown_signer');
      keys = undefined;
    } else {
      keys?.push(operator.blsPublicKey);
    }
  }
  const expectedNonSigners = [...members.keys()].filter((id) => !signerIds.has(id));
  if (!sameIdSet(expectedNonSigners, a.nonSigners)) reasons.add('non_signers_mismatch');

  let signedStake = 0n;
  let totalStake = 0n;
  for (const operator of members.values()) {
    const stake = parseStake(operator.stake)!;
    totalStake += stake;
    if (signerIds.has(operator.id)) signedStake += stake;
  }
  if (BigInt(a.signedStake) !== signedStake) reasons.add('signed_stake_mismatch');
  if (BigInt(a.totalStake) !== totalStake) reasons.add('total_stake_mismatch');
  if (!meetsQuorum(signedStake, totalStake, policyThresholdBps)) reasons.add('quorum_not_met');
  return keys !== undefined && keys.length > 0 ? keys : undefined;
}

/** Checks the aggregate signature over the recomputed digest (a claimed digest is never trusted). */
function checkSignature(
  verifier: BlsVerifier,
  signerKeys: readonly Hex[],
  digest: Hex,
  aggregateSignature: Hex,
  reasons: Set<QuorumRejection>,
): void {
  let valid: boolean;
  try {
    valid = verifier.verifyAggregate(signerKeys, hexToBytes(digest), hexToBytes(aggregateSignature));
  } catch {
    reasons.add('invalid_signer_key');
    return;
  }
  if (!valid) reasons.add('invalid_signature');
}

function sameIdSet(expected: readonly string[], actual: readonly string[]): boolean {
  const claimed = new Set(actual);
  return claimed.size === actual.length && claimed.size === expected.length && expected.every((id) => claimed.has(id));
}
