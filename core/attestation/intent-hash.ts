/** The Intent (transaction someone wants to execute) and its on-chain-compatible hash. */
import { encodeAbiParameters, keccak256, type Address, type Hex } from 'viem';

/** An Intent as it travels in JSON: `value` is a decimal string because JSON has no uint256. */
export type Intent = {
  from: Address;
  to: Address;
  value: string;
  data: Hex;
  chainId: number;
};

/** keccak256(abi.encode(address from, address to, uint256 value, bytes data, uint256 chainId)). */
export function computeIntentHash(intent: Intent): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: 'address' }, { type: 'address' }, { type: 'uint256' }, { type: 'bytes' }, { type: 'uint256' }],
      [intent.from, intent.to, BigInt(intent.value), intent.data, BigInt(intent.chainId)],
    ),
  );
}
