/**
 * Which operator each backend of a local stack belongs to (quorum mode): with N operators, backend i
 * is operator ((i mod N) + 1)'s, so the first N backends are N distinct operators. The backend gets
 * the operator's BLS key file, the same one the operator's signer node uses, created here first when
 * the backends start before the signer nodes do.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bytesToHex } from 'viem';
import { generateKeyPair } from '../core/attestation';

/** The backend's operator and the flags that attach it (none when the stack runs no operators). */
export interface BackendOperatorArgs {
  operatorId: string | null;
  args: string[];
}

/** The operator of backend `index` (0-based) among `operators` operators, with its key file made if missing. */
export async function backendOperatorArgs(stateDir: string, index: number, operators: number): Promise<BackendOperatorArgs> {
  if (operators <= 0) return { operatorId: null, args: [] };
  const operatorId = `operator-${(index % operators) + 1}`;
  const keyFile = join(stateDir, 'keys', `${operatorId}.bls.key`);
  await ensureOperatorKeyFile(keyFile);
  return { operatorId, args: ['--operator-id', operatorId, '--operator-key-file', keyFile] };
}

/** Writes a fresh BLS secret key (0x-hex, mode 600, the signer node's format) unless the file holds one. */
export async function ensureOperatorKeyFile(file: string): Promise<void> {
  const existing = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (existing) return;
  await writeFile(file, `${bytesToHex(generateKeyPair(new Uint8Array(randomBytes(32))).secretKey)}\n`, { mode: 0o600 });
}
