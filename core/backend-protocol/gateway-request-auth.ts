import { bytesToHex, hexToBytes, type Hex } from 'viem';

// Gateway → backend requests are authenticated with HMAC-SHA256 rather than a signature: the Worker
// makes one per inference call, and Web Crypto's HMAC is native and constant-time where a secp256k1
// signature in JavaScript would cost milliseconds. The key is derived from the gateway secret and the
// backend's address, so the gateway stores nothing per backend and each backend's key is its own.

/** Header names of the gateway → backend protocol. */
export const GATEWAY_HEADERS = {
  requestId: 'proofgate-request-id',
  modelSha256: 'proofgate-model-sha256',
  timestamp: 'proofgate-timestamp',
  signature: 'proofgate-signature',
  receipt: 'proofgate-receipt',
} as const;

/** How far (ms) a gateway request's timestamp may be from the backend's clock. */
export const GATEWAY_REQUEST_MAX_SKEW_MS = 60_000;

/** What the HMAC covers: everything the backend acts on. */
export interface GatewayRequest {
  method: string;
  path: string;
  requestId: Hex;
  modelSha256: Hex;
  bodySha256: Hex;
  timestamp: number;
}

const utf8 = new TextEncoder();

async function hmacKey(key: Uint8Array, usage: 'sign' | 'verify'): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, [usage]);
}

function canonical(r: GatewayRequest): Uint8Array {
  return utf8.encode(['proofgate-gateway-request-v1', r.method.toUpperCase(), r.path, r.requestId, r.modelSha256, r.bodySha256, String(r.timestamp)].join('\n'));
}

/** Derives the per-backend HMAC key from the gateway's secret and the backend's address. */
export async function deriveBackendAuthKey(gatewaySecret: string, backendAddress: string): Promise<Hex> {
  const key = await hmacKey(utf8.encode(gatewaySecret), 'sign');
  const mac = await crypto.subtle.sign('HMAC', key, utf8.encode(`proofgate-backend-auth-v1:${backendAddress.toLowerCase()}`));
  return bytesToHex(new Uint8Array(mac));
}

/** Signs a gateway request with a backend's auth key (hex HMAC-SHA256). */
export async function signGatewayRequest(authKey: Hex, request: GatewayRequest): Promise<Hex> {
  const key = await hmacKey(hexToBytes(authKey), 'sign');
  return bytesToHex(new Uint8Array(await crypto.subtle.sign('HMAC', key, canonical(request))));
}

/** Checks a gateway request's HMAC (constant time) and its freshness against `nowMs`. */
export async function verifyGatewayRequest(authKey: Hex, request: GatewayRequest, signature: string, nowMs: number): Promise<boolean> {
  if (!Number.isSafeInteger(request.timestamp) || Math.abs(nowMs - request.timestamp) > GATEWAY_REQUEST_MAX_SKEW_MS) return false;
  if (!/^0x[0-9a-f]{64}$/.test(signature)) return false;
  const key = await hmacKey(hexToBytes(authKey), 'verify');
  return crypto.subtle.verify('HMAC', key, hexToBytes(signature as Hex), canonical(request));
}
