import { bytesToHex, hexToBytes, type Address, type Hex } from 'viem';
import type { BlsVerifier } from './bls-verifier';
import { OperatorRegistryError } from './errors';
import { activeOperators, parseStake, sameSnapshot, type OperatorRegistry } from './operator-registry';

/** One operator's BLS signature over an attestation's digest. */
export interface OperatorSignature {
  operatorId: string;
  signature: Hex;
}

/** Who signed, who did not, and with what stake, under one registry snapshot; the signatures aggregated. */
export interface SignerSet {
  aggregateSignature: Hex;
  signers: string[];
  nonSigners: string[];
  signedStake: string;
  totalStake: string;
}

/**
 * Aggregates signatures already verified over one digest (intent and inference attestations alike):
 * signers and non-signers in registry order, stakes from the snapshot the request names. Quorum is
 * not enforced here. Throws OperatorRegistryError for another snapshot, a duplicate or a stranger.
 */
export function aggregateSignerSet(
  snapshot: { registry: Address; registryBlock: number },
  signatures: readonly OperatorSignature[],
  registry: OperatorRegistry,
  verifier: BlsVerifier,
): SignerSet {
  if (!sameSnapshot(registry, { address: snapshot.registry, blockNumber: snapshot.registryBlock })) {
    throw new OperatorRegistryError('registry_mismatch', 'the registry snapshot is not the one the request names');
  }
  const byId = new Map(signatures.map((s) => [s.operatorId, s.signature]));
  if (byId.size !== signatures.length) throw new OperatorRegistryError('duplicate_operator', 'an operator signed more than once');
  const members = activeOperators(registry);
  for (const id of byId.keys()) {
    if (!members.some((operator) => operator.id === id)) {
      throw new OperatorRegistryError('unknown_operator', `operator ${id} is not a member of the registry snapshot`);
    }
  }
  const signers: string[] = [];
  const nonSigners: string[] = [];
  const parts: Uint8Array[] = [];
  let signedStake = 0n;
  let totalStake = 0n;
  for (const operator of members) {
    const stake = parseStake(operator.stake)!;
    totalStake += stake;
    const signature = byId.get(operator.id);
    if (signature === undefined) {
      nonSigners.push(operator.id);
      continue;
    }
    signers.push(operator.id);
    parts.push(hexToBytes(signature));
    signedStake += stake;
  }
  return {
    aggregateSignature: bytesToHex(verifier.aggregateSignatures(parts)),
    signers,
    nonSigners,
    signedStake: signedStake.toString(),
    totalStake: totalStake.toString(),
  };
}
