/**
 * Newton Protocol's Rego extensions (newton.crypto.*), with the input rules of Newton's own
 * engine (newton-regorus, src/extensions/crypto.rs): Ethereum ECDSA signer recovery.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import type { ECDSASignature, WeierstrassPoint } from '@noble/curves/abstract/weierstrass.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { builtinError } from '../errors';
import { str } from './args';
import { def } from './types';
import type { BuiltinDef } from './types';

const RECOVER = 'newton.crypto.ecdsa_recover_signer';
const RECOVER_PERSONAL = 'newton.crypto.ecdsa_recover_signer_personal';
const utf8 = new TextEncoder();

/**
 * Hex with an optional lowercase `0x`, as Newton strips it. Newton's decoder panics on an odd
 * length and lets a `+` through inside a digit pair (Rust's from_str_radix); both are refused here.
 */
function hexBytes(name: string, what: string, hex: string): Uint8Array {
  const digits = hex.startsWith('0x') ? hex.slice(2) : hex;
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(digits)) throw builtinError(name, `invalid hex in ${what}`);
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function checkLength(name: string, what: string, b: Uint8Array, want: number): void {
  if (b.length !== want) throw builtinError(name, `${what} must be ${want} bytes, got ${b.length}`);
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** EIP-55: a hex digit is upper case where the keccak-256 of the lower-case address has a nibble >= 8. */
function checksumAddress(addr: Uint8Array): string {
  const lower = hex(addr);
  const h = hex(keccak_256(utf8.encode(lower)));
  let out = '0x';
  for (let i = 0; i < lower.length; i++) out += parseInt(h[i]!, 16) >= 8 ? lower[i]!.toUpperCase() : lower[i]!;
  return out;
}

/**
 * Raw ecrecover of a 65-byte r‖s‖v signature over a 32-byte hash, to the signer's checksummed
 * address. v is 0/1 or 27/28. High-s signatures are refused: Newton recovers with k256, whose
 * recover_from_prehash verifies the result and k256's verification rejects high s (go-ethereum's
 * SigToPub would accept them; EVM-side checks such as OpenZeppelin's ECDSA refuse them too).
 */
function recoverAddress(name: string, sig: Uint8Array, hash: Uint8Array): string {
  const v = sig[64]!;
  const recovery = v === 0 || v === 27 ? 0 : v === 1 || v === 28 ? 1 : -1;
  if (recovery < 0) throw builtinError(name, `invalid recovery id: ${v}`);
  let signature: ECDSASignature;
  try {
    signature = secp256k1.Signature.fromBytes(sig.subarray(0, 64), 'compact').addRecoveryBit(recovery);
  } catch {
    throw builtinError(name, 'invalid signature: r and s must be in [1, n-1]');
  }
  if (signature.hasHighS()) throw builtinError(name, 'invalid signature: s is in the upper half of the curve order');
  let point: WeierstrassPoint<bigint>;
  try {
    point = signature.recoverPublicKey(hash);
  } catch {
    throw builtinError(name, 'failed to recover public key');
  }
  // The address is the last 20 bytes of keccak-256 over the uncompressed key without its 0x04 tag.
  return checksumAddress(keccak_256(point.toBytes(false).subarray(1)).subarray(12));
}

/** EIP-191 personal message hash over the message's bytes: keccak-256("\x19Ethereum Signed Message:\n" + length + message). */
function personalHash(message: Uint8Array): Uint8Array {
  const prefix = utf8.encode(`\x19Ethereum Signed Message:\n${message.length}`);
  const data = new Uint8Array(prefix.length + message.length);
  data.set(prefix);
  data.set(message, prefix.length);
  return keccak_256(data);
}

/** Registry entries of this family. */
export const newtonBuiltins: BuiltinDef[] = [
  def(RECOVER, 2, (a) => {
    const [sigText, hashText] = [str(RECOVER, a, 0), str(RECOVER, a, 1)];
    // Newton decodes both operands before checking either length.
    const [sig, hash] = [hexBytes(RECOVER, 'signature', sigText), hexBytes(RECOVER, 'message_hash', hashText)];
    checkLength(RECOVER, 'signature', sig, 65);
    checkLength(RECOVER, 'message_hash', hash, 32);
    return recoverAddress(RECOVER, sig, hash);
  }),
  // The message is the string's UTF-8 bytes, never hex-decoded: Newton hashes `message.as_bytes()`,
  // as wallets' personal_sign of a text message and viem's signMessage({ message: string }) do.
  def(RECOVER_PERSONAL, 2, (a) => {
    const [sigText, message] = [str(RECOVER_PERSONAL, a, 0), str(RECOVER_PERSONAL, a, 1)];
    const sig = hexBytes(RECOVER_PERSONAL, 'signature', sigText);
    checkLength(RECOVER_PERSONAL, 'signature', sig, 65);
    return recoverAddress(RECOVER_PERSONAL, sig, personalHash(utf8.encode(message)));
  }),
];
