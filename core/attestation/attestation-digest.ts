/** The digest that operators BLS-sign, and the hash binding it to the consensus PolicyData. */
import { encodeAbiParameters, keccak256, stringToBytes, type Address, type Hex } from 'viem';
import { canonicalJson } from '../canonical-json';

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
};

/**
 * keccak256(abi.encode(bytes32 taskId, bytes32 policyId, address policyClient, uint256 chainId,
 * bytes32 intentHash, bool allowed, bytes32 policyDataHash, uint64 expiration)).
 */
export function computeAttestationDigest(fields: DigestFields): Hex {
  return keccak256(
    encodeAbiParameters(
      [
        { type: 'bytes32' },
        { type: 'bytes32' },
        { type: 'address' },
        { type: 'uint256' },
        { type: 'bytes32' },
        { type: 'bool' },
        { type: 'bytes32' },
        { type: 'uint64' },
      ],
      [
        fields.taskId,
        fields.policyId,
        fields.policyClient,
        BigInt(fields.chainId),
        fields.intentHash,
        fields.allowed,
        fields.policyDataHash,
        BigInt(fields.expiration),
      ],
    ),
  );
}

/** keccak256 of the canonical JSON (UTF-8) of the consensus PolicyData. */
export function computePolicyDataHash(policyData: unknown): Hex {
  return keccak256(stringToBytes(canonicalJson(policyData)));
}
