/** The operator registry as the verifier sees it, and admission gated by a proof of possession. */
import { bytesToHex, hexToBytes, isHex, type Hex } from 'viem';
import { decodePublicKey, verifyProofOfPossession, type G1Point } from './bls-keys';
import { BlsKeyError, OperatorRegistryError } from './errors';

/** A registered operator; only `status: 'active'` operators count for signing and total stake. */
export type RegisteredOperator = {
  id: string;
  /** 48-byte compressed G1 public key, admitted with a proof of possession. */
  blsPublicKey: Hex;
  /** Stake weight: bigint, a decimal string (JSON) or a safe integer (SQLite). */
  stake: bigint | string | number;
  status: string;
};

/** The set of operators an attestation is checked against. */
export type OperatorRegistry = { operators: readonly RegisteredOperator[] };

/** A registration request: the operator's key together with its proof of possession. */
export type OperatorCandidate = {
  id: string;
  blsPublicKey: Hex;
  proofOfPossession: Hex;
  stake: bigint | string | number;
};

/**
 * Returns a registry with `candidate` added as active, after checking its proof of possession;
 * without that check a crafted key (g^a - pk_victim) would let one party forge aggregates.
 */
export function admitOperator(registry: OperatorRegistry, candidate: OperatorCandidate): OperatorRegistry {
  const stake = parseStake(candidate.stake);
  if (stake === undefined) throw new OperatorRegistryError('invalid_stake', `invalid stake for ${candidate.id}`);
  if (!isHex(candidate.blsPublicKey) || !isHex(candidate.proofOfPossession)) {
    throw new OperatorRegistryError('invalid_proof_of_possession', 'key and proof must be hex');
  }
  const publicKey = hexToBytes(candidate.blsPublicKey);
  if (!verifyProofOfPossession(publicKey, hexToBytes(candidate.proofOfPossession))) {
    throw new OperatorRegistryError('invalid_proof_of_possession', `proof of possession refused for ${candidate.id}`);
  }
  const normalizedKey = bytesToHex(publicKey);
  for (const existing of registry.operators) {
    if (existing.id === candidate.id || existing.blsPublicKey.toLowerCase() === normalizedKey) {
      throw new OperatorRegistryError('duplicate_operator', `operator ${candidate.id} or its key is already registered`);
    }
  }
  const admitted: RegisteredOperator = { id: candidate.id, blsPublicKey: normalizedKey, stake, status: 'active' };
  return { operators: [...registry.operators, admitted] };
}

/** Active operators in registry order. */
export function activeOperators(registry: OperatorRegistry): RegisteredOperator[] {
  return registry.operators.filter((operator) => operator.status === 'active');
}

/** Parses a stake into a non-negative bigint, or undefined when it is not one. */
export function parseStake(stake: bigint | string | number): bigint | undefined {
  if (typeof stake === 'bigint') return stake >= 0n ? stake : undefined;
  if (typeof stake === 'number') return Number.isSafeInteger(stake) && stake >= 0 ? BigInt(stake) : undefined;
  return /^(0|[1-9][0-9]*)$/.test(stake) ? BigInt(stake) : undefined;
}

/** Decodes an operator's registered key (validated: canonical, in subgroup, not identity). */
export function operatorPublicKey(operator: RegisteredOperator): G1Point {
  if (!isHex(operator.blsPublicKey)) {
    throw new BlsKeyError('invalid_public_key', `operator ${operator.id} key is not hex`);
  }
  return decodePublicKey(hexToBytes(operator.blsPublicKey));
}
