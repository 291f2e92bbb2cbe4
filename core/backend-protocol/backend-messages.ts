import { recoverTypedDataAddress, type Address, type Hex } from 'viem';
import { RECEIPT_DOMAIN } from '../receipts/inference-receipt';

/** Paths a backend serves to the gateway (gateway-authenticated, see core/node-protocol). */
export const BACKEND_PATHS = {
  /** Runs a model: canonical tensors in, canonical tensors out, the signed receipt in a header. */
  run: '/v1/run',
} as const;

/** Headers on every `/v1/run` answer (and refusal) by which a backend reports its load to the gateway. */
export const BACKEND_LOAD_HEADERS = {
  /** Calls waiting in the backend's queue. */
  queueDepth: 'proofgate-queue-depth',
  /** How many calls the queue holds before the backend refuses with 503. */
  queueCapacity: 'proofgate-queue-capacity',
  /** "1" while the backend drains. */
  draining: 'proofgate-draining',
  /** Calls that shared this call's onnxruntime run (dynamic batching). */
  batchSize: 'proofgate-batch-size',
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
    { name: 'queueDepth', type: 'uint32' },
    { name: 'queueCapacity', type: 'uint32' },
    { name: 'draining', type: 'bool' },
    { name: 'issuedAt', type: 'uint64' },
  ],
  BackendDeparture: [
    { name: 'backend', type: 'address' },
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

/** A backend's liveness and load report; `draining` asks the pool to route it nothing new. */
export interface BackendHeartbeat {
  backend: Address;
  inFlight: number;
  queueDepth: number;
  queueCapacity: number;
  draining: boolean;
  issuedAt: number;
}

/** A drained backend leaving the pool. */
export interface BackendDeparture {
  backend: Address;
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

/** Typed data of a departure for signing or recovery. */
export function departureTypedData(d: BackendDeparture) {
  return {
    domain: RECEIPT_DOMAIN,
    types: BACKEND_MESSAGE_TYPES,
    primaryType: 'BackendDeparture',
    message: { ...d, issuedAt: BigInt(d.issuedAt) },
  } as const;
}

/** Recovers the signer of a registration, heartbeat or departure; null when the signature is malformed. */
export async function recoverBackendSigner(
  typedData: ReturnType<typeof registrationTypedData> | ReturnType<typeof heartbeatTypedData> | ReturnType<typeof departureTypedData>,
  signature: Hex,
): Promise<Address | null> {
  try {
    return await recoverTypedDataAddress({ ...typedData, signature } as Parameters<typeof recoverTypedDataAddress>[0]);
  } catch {
    return null;
  }
}
