/**
 * Hex values as Proofgate's wire formats carry them: one pattern per kind, and the zod schemas that
 * parse untrusted input into lower-case `Hex` (addresses into EIP-55 checksummed form).
 */
import { getAddress, isAddress, type Address, type Hex } from 'viem';
import { z } from 'zod';

/** `0x` followed by exactly `bytes` bytes of hex (either case). */
export function hexBytesPattern(bytes: number): RegExp {
  return new RegExp(`^0x[0-9a-fA-F]{${bytes * 2}}$`);
}

const BYTES32 = hexBytesPattern(32);

/** True for `0x` + 64 hex digits (either case): hashes, ids, nonces. */
export function isBytes32(value: unknown): value is Hex {
  return typeof value === 'string' && BYTES32.test(value);
}

/** True for a lower-case `0x` + 64 hex digits: the one form of content hashes (sha256 ids), request ids and MACs on the wire. */
export function isSha256Id(value: unknown): value is Hex {
  return typeof value === 'string' && /^0x[0-9a-f]{64}$/.test(value);
}

/** Exactly `bytes` bytes of hex, lower-cased. */
export const hexBytesSchema = (bytes: number) =>
  z
    .string()
    .regex(hexBytesPattern(bytes), `expected ${bytes}-byte 0x-hex`)
    .transform((s) => s.toLowerCase() as Hex);

/** A 32-byte value (hash, id, nonce), lower-cased. */
export const bytes32Schema = hexBytesSchema(32);

/** Any whole number of bytes of hex (possibly none), as given. */
export const hexDataSchema = z
  .string()
  .regex(/^0x([0-9a-fA-F]{2})*$/, 'expected 0x-hex bytes')
  .transform((s) => s as Hex);

/** An Ethereum address in any case, returned checksummed. */
export const addressSchema = z
  .string()
  .refine((s) => isAddress(s, { strict: false }), 'not an address')
  .transform((s) => getAddress(s) as Address);
