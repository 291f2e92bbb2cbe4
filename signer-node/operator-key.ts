import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { bytesToHex, hexToBytes } from 'viem';
import { createProofOfPossession, generateKeyPair, getPublicKey, secretScalar, type BlsKeyPair } from '../core/attestation';
import { ProofgateError } from '../core/errors';
import { isBytes32 } from '../core/hex';

/** An operator's BLS key with its proof of possession, as the node uses it. */
export interface OperatorKey extends BlsKeyPair {
  proofOfPossession: Uint8Array;
}

/** Builds the operator key (public key and proof of possession) of a 32-byte secret key. */
export function operatorKeyFromSecret(secretKey: Uint8Array): OperatorKey {
  secretScalar(secretKey);
  return { secretKey, publicKey: getPublicKey(secretKey), proofOfPossession: createProofOfPossession(secretKey) };
}

/**
 * Reads the BLS secret key (0x-hex, 32 bytes) from `file`, creating the file (mode 600) with a key
 * from 32 fresh random bytes through IETF KeyGen when it does not exist yet.
 */
export async function loadOrCreateOperatorKey(file: string): Promise<OperatorKey> {
  let text = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (!text) {
    await mkdir(dirname(file), { recursive: true });
    text = bytesToHex(generateKeyPair(new Uint8Array(randomBytes(32))).secretKey);
    await writeFile(file, `${text}\n`, { mode: 0o600 });
  }
  await chmod(file, 0o600);
  if (!isBytes32(text)) throw new ProofgateError('invalid_key_file', `${file} does not hold a 0x-hex 32-byte BLS secret key`);
  return operatorKeyFromSecret(hexToBytes(text as `0x${string}`));
}
