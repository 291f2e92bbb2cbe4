import { bytesToHex, hexToBytes, type Hex } from 'viem';
import { isSha256Id } from '../hex';

// Gateway → node requests (inference backends and signer nodes alike) are authenticated with
// HMAC-SHA256 rather than a signature: the Worker makes one per call, and Web Crypto's HMAC is native
// and constant-time where a secp256k1 signature in JavaScript would cost milliseconds. The key is
// derived from the gateway secret and the node's label, so the gateway stores nothing per node and
// each node's key is its own.

/** Header names of the gateway → node protocol. */
export const GATEWAY_HEADERS = {
  /** The inference request id, or the task id. */
  requestId: 'proofgate-request-id',
  /** What the request is about: the model's sha256 (inference) or the policy id (task). */
  subject: 'proofgate-subject',
  timestamp: 'proofgate-timestamp',
  signature: 'proofgate-signature',
  /** The backend's signed receipt, on its answer. */
  receipt: 'proofgate-receipt',
} as const;

/** How far (ms) a gateway request's timestamp may be from the node's clock. */
export const GATEWAY_REQUEST_MAX_SKEW_MS = 60_000;

/** What the HMAC covers: everything the node acts on. */
export interface GatewayRequest {
  method: string;
  path: string;
  requestId: Hex;
  subject: Hex;
  bodySha256: Hex;
  timestamp: number;
}

const utf8 = new TextEncoder();

async function hmacKey(key: Uint8Array, usage: 'sign' | 'verify'): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, [usage]);
}

function canonical(r: GatewayRequest): Uint8Array {
  return utf8.encode(
    ['proofgate-gateway-request-v2', r.method.toUpperCase(), r.path, r.requestId, r.subject, r.bodySha256, String(r.timestamp)].join('\n'),
  );
}

/** The label a backend's key is derived from (its address). */
export function backendAuthLabel(address: string): string {
  return `backend:${address.toLowerCase()}`;
}

/** The label an operator's signer-node key is derived from (its id; never an address, so never a backend's). */
export function operatorAuthLabel(operatorId: string): string {
  return `operator:${operatorId}`;
}

/** Derives a node's HMAC key from the gateway's secret and the node's label. */
export async function deriveNodeAuthKey(gatewaySecret: string, nodeLabel: string): Promise<Hex> {
  const key = await hmacKey(utf8.encode(gatewaySecret), 'sign');
  const mac = await crypto.subtle.sign('HMAC', key, utf8.encode(`proofgate-node-auth-v1:${nodeLabel}`));
  return bytesToHex(new Uint8Array(mac));
}

/** Imports a node's auth key once for signing many requests (the gateway keeps one per node). */
export function importNodeAuthKey(authKey: Hex): Promise<CryptoKey> {
  return hmacKey(hexToBytes(authKey), 'sign');
}

/** Signs a gateway request with a node's auth key (hex HMAC-SHA256), given as hex or as an imported key. */
export async function signGatewayRequest(authKey: Hex | CryptoKey, request: GatewayRequest): Promise<Hex> {
  const key = typeof authKey === 'string' ? await importNodeAuthKey(authKey) : authKey;
  return bytesToHex(new Uint8Array(await crypto.subtle.sign('HMAC', key, canonical(request))));
}

/** The headers that carry a signed gateway request. */
export async function gatewayRequestHeaders(authKey: Hex | CryptoKey, request: GatewayRequest): Promise<Record<string, string>> {
  return {
    [GATEWAY_HEADERS.requestId]: request.requestId,
    [GATEWAY_HEADERS.subject]: request.subject,
    [GATEWAY_HEADERS.timestamp]: String(request.timestamp),
    [GATEWAY_HEADERS.signature]: await signGatewayRequest(authKey, request),
  };
}

/** Checks a gateway request's HMAC (constant time) and its freshness against `nowMs`. */
export async function verifyGatewayRequest(authKey: Hex, request: GatewayRequest, signature: string, nowMs: number): Promise<boolean> {
  if (!Number.isSafeInteger(request.timestamp) || Math.abs(nowMs - request.timestamp) > GATEWAY_REQUEST_MAX_SKEW_MS) return false;
  if (!isSha256Id(signature)) return false;
  const key = await hmacKey(hexToBytes(authKey), 'verify');
  return crypto.subtle.verify('HMAC', key, hexToBytes(signature as Hex), canonical(request));
}
