/** The digest that operators BLS-sign, and the hash binding it to the consensus PolicyData. */
import { encodeAbiParameters, keccak256, stringToBytes, type Address, type Hex } from 'viem';
import { canonicalJson } from '../canonical-json';

/** Leads every intent attestation digest: names the kind and its version (v2 signs the quorum and the registry snapshot). */
export const INTENT_ATTESTATION_TYPEHASH: Hex = keccak256(stringToBytes('Proofgate.IntentAttestation.v2'));

/** The signed fields of an attestation, in digest order. */
export type DigestFields = {
  taskId: Hex;
  policyId: Hex;
  policyClient: Address;
  chainId: number;
  intentHash: Hex;
  allowed: boolean;
  policyDataHash: Hex;
  expiration: number;
  /** The policy's quorum: signed, so nobody can judge the attestation under a lower one. */
  thresholdBps: number;
  /** The OperatorRegistry contract and the block whose stakes and keys the attestation is judged by. */
  registry: Address;
  registryBlock: number;
};

/**
 * keccak256(abi.encode(bytes32 INTENT_ATTESTATION_TYPEHASH, bytes32 taskId, bytes32 policyId,
 * address policyClient, uint256 chainId, bytes32 intentHash, bool allowed, bytes32 policyDataHash,
 * uint64 expiration, uint16 thresholdBps, address registry, uint64 registryBlock)), exactly as
 * AttestationValidator.digestOf.
 */
export function computeAttestationDigest(fields: DigestFields): Hex {
  return keccak256(
    encodeAbiParameters(
      [
        { type: 'bytes32' },
        { type: 'bytes32' },
        { type: 'bytes32' },
        { type: 'address' },
        { type: 'uint256' },
        { type: 'bytes32' },
        { type: 'bool' },
        { type: 'bytes32' },
        { type: 'uint64' },
        { type: 'uint16' },
        { type: 'address' },
        { type: 'uint64' },
      ],
      [
        INTENT_ATTESTATION_TYPEHASH,
        fields.taskId,
        fields.policyId,
        fields.policyClient,
        BigInt(fields.chainId),
        fields.intentHash,
        fields.allowed,
        fields.policyDataHash,
        BigInt(fields.expiration),
        fields.thresholdBps,
        fields.registry,
        BigInt(fields.registryBlock),
      ],
    ),
  );
}

/** keccak256 of the canonical JSON (UTF-8) of the consensus PolicyData. */
export function computePolicyDataHash(policyData: unknown): Hex {
  return keccak256(stringToBytes(canonicalJson(policyData)));
}
