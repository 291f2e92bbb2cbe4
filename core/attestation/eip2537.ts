/**
 * EIP-2537 point encodings for the BLS12-381 precompiles: each Fp coordinate is 64 bytes
 * big-endian (16 zero bytes + 48), Fp2 is c0 || c1, a point is x || y, and the identity is all
 * zeros. G1 points take 128 bytes, G2 points 256 bytes.
 */
import { bytesToHex, type Hex } from 'viem';
import { numberToBytesBE } from '@noble/curves/utils.js';
import { decodePublicKey, type G1Point } from './bls-keys';
import { decodeSignature, type G2Point } from './bls-signatures';

/** Encodes a G1 point (or 48-byte compressed public key) as the 128-byte EIP-2537 form. */
export function toEip2537G1(point: Uint8Array | G1Point): Hex {
  const p = point instanceof Uint8Array ? decodePublicKey(point) : point;
  if (p.is0()) return bytesToHex(new Uint8Array(128));
  const { x, y } = p.toAffine();
  return bytesToHex(concatFp([x, y]));
}

/** Encodes a G2 point (or 96-byte compressed signature) as the 256-byte EIP-2537 form. */
export function toEip2537G2(point: Uint8Array | G2Point): Hex {
  const p = point instanceof Uint8Array ? decodeSignature(point) : point;
  if (p.is0()) return bytesToHex(new Uint8Array(256));
  const { x, y } = p.toAffine();
  return bytesToHex(concatFp([x.c0, x.c1, y.c0, y.c1]));
}

function concatFp(elements: readonly bigint[]): Uint8Array {
  const out = new Uint8Array(64 * elements.length);
  for (const [i, element] of elements.entries()) out.set(numberToBytesBE(element, 64), 64 * i);
  return out;
}
