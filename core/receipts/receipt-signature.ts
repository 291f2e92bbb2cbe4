import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex, getAddress, hexToBytes, isAddressEqual, type Address, type Hex } from 'viem';

// Receipt signatures are checked with noble's secp256k1 directly rather than viem's
// recoverTypedDataAddress: the check must refuse malleable forms (high s, v other than 27/28) as
// payment verification does, and a backend's public key, once known, gets a precomputed window
// table so that each later receipt costs one fast double multiplication instead of a recovery.

const Point = secp256k1.Point;
const Fn = Point.Fn;
const HALF_ORDER = Fn.ORDER >> 1n;

/** A 65-byte signature split into its parts, known to be canonical (0 < r, s; s ≤ n/2; v 27 or 28). */
export interface CanonicalSignature {
  r: bigint;
  s: bigint;
  recovery: 0 | 1;
}

/** Parses `0x` r‖s‖v; null unless it is 65 bytes in canonical form (low s, v = 27 or 28). */
export function parseCanonicalSignature(signature: unknown): CanonicalSignature | null {
  if (typeof signature !== 'string' || !/^0x[0-9a-fA-F]{130}$/.test(signature)) return null;
  const r = BigInt(`0x${signature.slice(2, 66)}`);
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  const v = Number.parseInt(signature.slice(130), 16);
  if (v !== 27 && v !== 28) return null;
  if (r === 0n || r >= Fn.ORDER || s === 0n || s > HALF_ORDER) return null;
  return { r, s, recovery: (v - 27) as 0 | 1 };
}

function addressOf(point: InstanceType<typeof Point>): Address {
  return getAddress(bytesToHex(keccak_256(point.toBytes(false).subarray(1)).subarray(12)));
}

/** The address that signed `digest`, or null when the signature is not canonical or recovers nothing. */
export function recoverSigner(digest: Uint8Array, signature: unknown): Address | null {
  const sig = parseCanonicalSignature(signature);
  if (!sig) return null;
  try {
    const point = new secp256k1.Signature(sig.r, sig.s).addRecoveryBit(sig.recovery).recoverPublicKey(digest);
    return addressOf(point);
  } catch {
    return null;
  }
}

/**
 * Checks signatures of known signers cheaply: the first signature of an address is recovered (and
 * must come from that address); its public key is then kept with a precomputed table, and every
 * later signature is verified against it (ECDSA verification, canonical form required).
 */
export class SignerKeyCache {
  private readonly keys = new Map<string, InstanceType<typeof Point>>();

  constructor(private readonly capacity = 1024) {}

  /** True when `signature` over `digest` is canonical and made by `address`'s key. */
  verify(digest: Uint8Array, signature: unknown, address: string): boolean {
    const sig = parseCanonicalSignature(signature);
    if (!sig) return false;
    const id = address.toLowerCase();
    const key = this.keys.get(id);
    if (!key) {
      let recovered: InstanceType<typeof Point>;
      try {
        recovered = new secp256k1.Signature(sig.r, sig.s).addRecoveryBit(sig.recovery).recoverPublicKey(digest);
      } catch {
        return false;
      }
      if (!isAddressEqual(addressOf(recovered), address as Address)) return false;
      if (this.keys.size >= this.capacity) this.keys.delete(this.keys.keys().next().value!);
      this.keys.set(id, recovered.precompute(8, false));
      return true;
    }
    const e = Fn.create(bytesToBigInt(digest));
    const sInv = Fn.inv(sig.s);
    const R = Point.BASE.multiplyUnsafe(Fn.mul(e, sInv)).add(key.multiplyUnsafe(Fn.mul(sig.r, sInv)));
    if (R.is0()) return false;
    return Fn.create(R.toAffine().x) === sig.r;
  }
}

function bytesToBigInt(bytes: Uint8Array): bigint {
  return BigInt(bytesToHex(bytes));
}

/** Signs a 32-byte digest with a secp256k1 private key: `0x` r‖s‖v, low s, v = 27 or 28 (what viem's signTypedData yields). */
export function signDigest(digest: Uint8Array, privateKey: Hex): Hex {
  const sig = secp256k1.sign(digest, hexToBytes(privateKey), { prehash: false, format: 'recovered', lowS: true });
  // 'recovered' is v‖r‖s with v in {0, 1}; Ethereum's form is r‖s‖(v + 27).
  return `${bytesToHex(sig.subarray(1))}${(sig[0]! + 27).toString(16)}` as Hex;
}
