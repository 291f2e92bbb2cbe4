import { recoverTypedDataAddress, type Address, type Hex } from 'viem';
import { RECEIPT_DOMAIN } from '../receipts/inference-receipt';

/** Paths a backend serves to the gateway (gateway-authenticated, see core/node-protocol). */
export const BACKEND_PATHS = {
  /** Runs a model: canonical tensors in, canonical tensors out, the signed receipt in a header. */
  run: '/v1/run',
} as const;

/** EIP-712 types of what a backend signs towards the gateway: its registration and heartbeats. */
export const BACKEND_MESSAGE_TYPES = {
  BackendRegistration: [
    { name: 'backend', type: 'address' },
    { name: 'url', type: 'string' },
    { name: 'executionProvider', type: 'string' },
    { name: 'models', type: 'string' },
    { name: 'issuedAt', type: 'uint64' },
  ],
  BackendHeartbeat: [
    { name: 'backend', type: 'address' },
    { name: 'inFlight', type: 'uint32' },
    { name: 'issuedAt', type: 'uint64' },
  ],
} as const;

/** A backend's registration: where to reach it, what it runs on, which models ("*" or comma-separated sha256s). */
export interface BackendRegistration {
  backend: Address;
  url: string;
  executionProvider: string;
  models: string;
  issuedAt: number;
}

/** A backend's liveness report. */
export interface BackendHeartbeat {
  backend: Address;
  inFlight: number;
  issuedAt: number;
}

/** How far (seconds) a signed backend message's issuedAt may be from the gateway's clock. */
export const BACKEND_MESSAGE_MAX_SKEW_S = 300;

/** Typed data of a registration for signing (viem signTypedData) or recovery. */
export function registrationTypedData(r: BackendRegistration) {
  return {
    domain: RECEIPT_DOMAIN,
    types: BACKEND_MESSAGE_TYPES,
    primaryType: 'BackendRegistration',
    message: { ...r, issuedAt: BigInt(r.issuedAt) },
  } as const;
}

/** Typed data of a heartbeat for signing or recovery. */
export function heartbeatTypedData(h: BackendHeartbeat) {
  return {
    domain: RECEIPT_DOMAIN,
    types: BACKEND_MESSAGE_TYPES,
    primaryType: 'BackendHeartbeat',
    message: { ...h, issuedAt: BigInt(h.issuedAt) },
  } as const;
}

/** Recovers the signer of a registration or heartbeat; null when the signature is malformed. */
export async function recoverBackendSigner(
  typedData: ReturnType<typeof registrationTypedData> | ReturnType<typeof heartbeatTypedData>,
  signature: Hex,
): Promise<Address | null> {
  try {
    return await recoverTypedDataAddress({ ...typedData, signature } as Parameters<typeof recoverTypedDataAddress>[0]);
  } catch {
    return null;
  }
}
