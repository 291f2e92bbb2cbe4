/**
 * How a policy client's PolicyData secrets are sealed: AES-256-GCM under a key derived with
 * HKDF-SHA256 from a secret the two ends share (the gateway's secret for storage, an operator's
 * node key for delivery), bound to what they belong to by the additional data. Web Crypto only.
 */
import { bytesToHex, hexToBytes, type Hex } from 'viem';
import { ProofgateError } from '../errors';

/** Why a key is derived: the same shared secret never yields the same key for two purposes. */
export type SecretsSealPurpose = 'at-rest' | 'delivery';

/** Sealed secrets that do not open: another key, other additional data, or altered bytes. */
export class SecretsSealError extends ProofgateError {
  constructor() {
    super('secrets_unreadable', 'the sealed PolicyData secrets do not open with this key', 422);
  }
}

const utf8 = new TextEncoder();
const IV_BYTES = 12;

async function sealKey(sharedSecret: Uint8Array, purpose: SecretsSealPurpose): Promise<CryptoKey> {
  const ikm = await crypto.subtle.importKey('raw', sharedSecret, 'HKDF', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: utf8.encode('proofgate'), info: utf8.encode(`proofgate-policy-data-secrets-${purpose}-v1`) },
    ikm,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

/** Seals a secrets object: 0x-hex of a random 12-byte IV followed by the AES-GCM ciphertext and tag. */
export async function sealSecrets(
  sharedSecret: Uint8Array,
  purpose: SecretsSealPurpose,
  additionalData: string,
  secrets: Readonly<Record<string, string>>,
): Promise<Hex> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const key = await sealKey(sharedSecret, purpose);
  const ciphertext = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: utf8.encode(additionalData) },
    key,
    utf8.encode(JSON.stringify(secrets)),
  );
  const out = new Uint8Array(IV_BYTES + ciphertext.byteLength);
  out.set(iv);
  out.set(new Uint8Array(ciphertext), IV_BYTES);
  return bytesToHex(out);
}

/** Opens what sealSecrets sealed with the same secret, purpose and additional data; throws SecretsSealError otherwise. */
export async function openSecrets(
  sharedSecret: Uint8Array,
  purpose: SecretsSealPurpose,
  additionalData: string,
  sealed: Hex,
): Promise<Record<string, string>> {
  const bytes = hexToBytes(sealed);
  if (bytes.length <= IV_BYTES) throw new SecretsSealError();
  const key = await sealKey(sharedSecret, purpose);
  let plain: ArrayBuffer;
  try {
    plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: bytes.subarray(0, IV_BYTES), additionalData: utf8.encode(additionalData) },
      key,
      bytes.subarray(IV_BYTES),
    );
  } catch {
    throw new SecretsSealError();
  }
  return JSON.parse(new TextDecoder().decode(plain)) as Record<string, string>;
}
