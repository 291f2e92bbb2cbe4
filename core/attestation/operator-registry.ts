/**
 * The operator registry as a verifier sees it: one snapshot of the OperatorRegistry contract (its
 * address and a block) with the operators' keys and stakes at that block, and admission gated by a
 * proof of possession.
 */
import { bytesToHex, hexToBytes, isHex, type Address, type Hex } from 'viem';
import { verifyProofOfPossession } from './bls-keys';
import { OperatorRegistryError } from './errors';

/** An operator in a snapshot. Only operators with a positive stake are members: zero stake never counts. */
export type RegisteredOperator = {
  id: string;
  /** 48-byte compressed G1 public key, admitted with a proof of possession. */
  blsPublicKey: Hex;
  /** Stake weight: bigint, a decimal string (JSON) or a safe integer. */
  stake: bigint | string | number;
};

/** The registry an attestation is judged by: which contract, at which block, and its operators then. */
export type OperatorRegistry = {
  /** The OperatorRegistry contract. */
  address: Address;
  /** The block at whose end the keys and stakes are taken. */
  blockNumber: number;
  operators: readonly RegisteredOperator[];
};

/** A registration request: the operator's key together with its proof of possession. */
export type OperatorCandidate = {
  id: string;
  blsPublicKey: Hex;
  proofOfPossession: Hex;
  stake: bigint | string | number;
};

/** A snapshot without operators (admitOperator adds them). */
export function emptyRegistry(address: Address, blockNumber: number): OperatorRegistry {
  return { address, blockNumber, operators: [] };
}

/**
 * Returns a registry with `candidate` added, after checking its proof of possession; without that
 * check a crafted key (g^a - pk_victim) would let one party forge aggregates.
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
  return { ...registry, operators: [...registry.operators, { id: candidate.id, blsPublicKey: normalizedKey, stake }] };
}

/** The members of a snapshot (positive stake), in registry order. */
export function activeOperators(registry: Pick<OperatorRegistry, 'operators'>): RegisteredOperator[] {
  return registry.operators.filter((operator) => (parseStake(operator.stake) ?? 0n) > 0n);
}

/** The members' total stake (what quorums are a share of). */
export function registryTotalStake(registry: Pick<OperatorRegistry, 'operators'>): bigint {
  return activeOperators(registry).reduce((sum, operator) => sum + parseStake(operator.stake)!, 0n);
}

/** Parses a stake into a non-negative bigint, or undefined when it is not one. */
export function parseStake(stake: bigint | string | number): bigint | undefined {
  if (typeof stake === 'bigint') return stake >= 0n ? stake : undefined;
  if (typeof stake === 'number') return Number.isSafeInteger(stake) && stake >= 0 ? BigInt(stake) : undefined;
  return /^(0|[1-9][0-9]*)$/.test(stake) ? BigInt(stake) : undefined;
}

/** True when both name the same snapshot (contract address in any case, same block). */
export function sameSnapshot(a: { address: Address; blockNumber: number }, b: { address: Address; blockNumber: number }): boolean {
  return a.address.toLowerCase() === b.address.toLowerCase() && a.blockNumber === b.blockNumber;
}
