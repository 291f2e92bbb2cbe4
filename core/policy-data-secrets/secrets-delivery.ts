/**
 * The gateway ↔ signer node protocol of PolicyData secrets. A policy client's secrets for one
 * PolicyData binary are stored at the gateway; during a task's PolicyData phase an operator of the
 * task asks for those of its policy client, with an HMAC under its node key, and gets them sealed
 * to that key (secrets-sealing.ts), so they never travel or get logged in the clear.
 */
import { bytesToHex, hexToBytes, type Hex } from 'viem';
import { z } from 'zod';
import { bytes32Schema, hexDataSchema } from '../hex';

/** `POST` path of the request (operator-authenticated). */
export const POLICY_DATA_SECRETS_PATH = '/v1/policy-data/secrets';

/** Headers carrying the operator's authentication. */
export const SECRETS_REQUEST_HEADERS = {
  operator: 'proofgate-operator',
  timestamp: 'proofgate-timestamp',
  signature: 'proofgate-signature',
} as const;

/** How far (ms) a secrets request's timestamp may be from the gateway's clock. */
export const SECRETS_REQUEST_MAX_SKEW_MS = 60_000;

/** A secret's name: what a module passes to secrets_get, a key of the object secrets.get returns. */
export const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** The secrets of one (policy client, PolicyData) pair, as uploaded: at most 32 names, 4 KiB a value. */
export const policyDataSecretsSchema = z
  .record(z.string().regex(SECRET_NAME, 'secret names are letters, digits and _, not starting with a digit'), z.string().max(4096))
  .refine((s) => Object.keys(s).length <= 32, 'at most 32 secrets');

/** Body of the request: which task, and which of its PolicyData binaries. */
export const secretsRequestSchema = z.object({ taskId: bytes32Schema, sha256: bytes32Schema }).strict();

/** The reply: the secrets sealed to the asking operator's key, or null when none are stored. */
export const secretsReplySchema = z.object({ sealed: hexDataSchema.nullable() }).strict();

/** What the operator's HMAC covers. */
export interface SecretsRequest {
  operatorId: string;
  taskId: Hex;
  sha256: Hex;
  /** Unix milliseconds. */
  timestamp: number;
}

const utf8 = new TextEncoder();

function canonical(r: SecretsRequest): Uint8Array {
  return utf8.encode(
    ['proofgate-policy-data-secrets-v1', r.operatorId, r.taskId.toLowerCase(), r.sha256.toLowerCase(), String(r.timestamp)].join('\n'),
  );
}

async function hmacKey(authKey: Hex, usage: 'sign' | 'verify'): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', hexToBytes(authKey), { name: 'HMAC', hash: 'SHA-256' }, false, [usage]);
}

/** The operator's HMAC-SHA256 over the request, under its node key (hex). */
export async function signSecretsRequest(authKey: Hex, request: SecretsRequest): Promise<Hex> {
  return bytesToHex(new Uint8Array(await crypto.subtle.sign('HMAC', await hmacKey(authKey, 'sign'), canonical(request))));
}

/** Whether `signature` is the operator's HMAC over the request (constant-time, by Web Crypto). */
export async function verifySecretsRequest(authKey: Hex, request: SecretsRequest, signature: string): Promise<boolean> {
  if (!/^0x[0-9a-fA-F]{64}$/.test(signature)) return false;
  return crypto.subtle.verify('HMAC', await hmacKey(authKey, 'verify'), hexToBytes(signature as Hex), canonical(request));
}

/** Additional data that binds stored secrets to their policy client and PolicyData. */
export function storedSecretsBinding(policyClient: string, sha256: string): string {
  return `${policyClient.toLowerCase()}|${sha256.toLowerCase()}`;
}

/** Additional data that binds delivered secrets to their task, PolicyData and operator. */
export function deliveredSecretsBinding(request: Pick<SecretsRequest, 'operatorId' | 'taskId' | 'sha256'>): string {
  return `${request.taskId.toLowerCase()}|${request.sha256.toLowerCase()}|${request.operatorId}`;
}
