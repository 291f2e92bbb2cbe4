import { bytesToHex, isAddressEqual, type Address, type Hex } from 'viem';
import { BACKEND_PATHS } from '../../core/backend-protocol';
import { GATEWAY_HEADERS, backendAuthLabel, deriveNodeAuthKey, gatewayRequestHeaders } from '../../core/node-protocol';
import { ProofgateError } from '../../core/errors';
import { verifyReceipt, type InferenceReceipt } from '../../core/receipts';
import { TENSORS_MEDIA_TYPE, decodeTensors, sha256Hex, type Tensor } from '../../core/tensors';
import { backendPool, type BackendLease, type BackendPool } from '../../durable-objects/backend-pool';
import type { ModelVersion } from '../hub/model-store';

/** No healthy backend serves the model right now. */
export class NoBackendAvailableError extends ProofgateError {
  constructor(model: string) {
    super('no_backend_available', `no healthy backend serves model "${model}" right now`, 503, { retryAfterSeconds: 5 });
  }
}

/** Every backend tried failed (or returned something that did not verify). */
export class BackendFailedError extends ProofgateError {
  constructor(reason: string) {
    super('backend_failed', `inference failed on the backends tried: ${reason}`, 502);
  }
}

/** The model itself rejected the inputs (e.g. a value it cannot handle): the caller's fault, not retried. */
export class ModelRejectedInputError extends ProofgateError {
  constructor(message: string) {
    super('model_rejected_input', message, 422);
  }
}

// A backend answer that cannot be trusted: counted as that backend's failure and retried elsewhere.
class UntrustedAnswer extends Error {}

/** What an accepted call yields: outputs and a receipt whose signature and hashes were checked. */
export interface InferenceResult {
  outputs: Record<string, Tensor>;
  outputBytes: Uint8Array;
  receipt: InferenceReceipt;
  backendId: string;
}

export interface DispatchOptions {
  pool: DurableObjectNamespace<BackendPool>;
  gatewaySecret: string;
  model: ModelVersion;
  /** Canonical encoding of the inputs (the body sent to the backend) and its sha256. */
  inputBytes: Uint8Array;
  inputHash: Hex;
  timeoutMs?: number;
  maxOutputBytes?: number;
  fetcher?: typeof fetch;
}

/** Tries at most this many distinct backends per call (the first and one retry). */
export const MAX_ATTEMPTS = 2;

/**
 * Runs one inference call on the pool: picks the least-loaded healthy backend, sends the canonical
 * tensors with an HMAC the backend checks, verifies the receipt (signer = the registered backend,
 * hashes = what was sent and received) before anything is returned, and fails over once.
 */
export async function dispatchInference(opts: DispatchOptions): Promise<InferenceResult> {
  const pool = backendPool(opts.pool);
  const requestId = bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
  const tried: string[] = [];
  let lastFailure = '';
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const lease = await pool.acquire(opts.model.sha256, tried);
    if (!lease) {
      if (attempt === 0) throw new NoBackendAvailableError(opts.model.name);
      break;
    }
    tried.push(lease.id);
    let ok = false;
    try {
      const result = await callBackend(opts, lease, requestId);
      ok = true;
      return result;
    } catch (err) {
      if (err instanceof ModelRejectedInputError) {
        ok = true; // the backend worked; the input was bad
        throw err;
      }
      lastFailure = `${lease.id}: ${err instanceof Error ? err.message : String(err)}`;
      console.warn(`backend ${lease.id} failed request ${requestId}: ${lastFailure}`);
    } finally {
      await pool.release(lease.id, ok);
    }
  }
  throw new BackendFailedError(lastFailure || 'no other backend was available');
}

async function callBackend(opts: DispatchOptions, lease: BackendLease, requestId: Hex): Promise<InferenceResult> {
  const path = BACKEND_PATHS.run;
  const authKey = await deriveNodeAuthKey(opts.gatewaySecret, backendAuthLabel(lease.address));
  const auth = await gatewayRequestHeaders(authKey, {
    method: 'POST',
    path,
    requestId,
    subject: opts.model.sha256,
    bodySha256: opts.inputHash,
    timestamp: Date.now(),
  });
  const res = await (opts.fetcher ?? fetch)(`${lease.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': TENSORS_MEDIA_TYPE, ...auth },
    body: opts.inputBytes,
    signal: AbortSignal.timeout(opts.timeoutMs ?? 120_000),
  });
  if (res.status === 422) {
    const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
    throw new ModelRejectedInputError(body?.error?.message ?? 'the model rejected the inputs');
  }
  if (!res.ok) throw new UntrustedAnswer(`HTTP ${res.status} ${await res.text().catch(() => '')}`.slice(0, 300));
  const outputBytes = new Uint8Array(await res.arrayBuffer());
  if (outputBytes.byteLength > (opts.maxOutputBytes ?? 256 * 1024 * 1024)) throw new UntrustedAnswer('output too large');
  const receipt = parseReceiptHeader(res.headers.get(GATEWAY_HEADERS.receipt));
  const outputHash = await sha256Hex(outputBytes);
  const outputs = decodeTensors(outputBytes);
  const mismatch =
    receipt.requestId !== requestId
      ? 'requestId'
      : receipt.modelSha256 !== opts.model.sha256
        ? 'modelSha256'
        : receipt.inputHash !== opts.inputHash
          ? 'inputHash'
          : receipt.outputHash !== outputHash
            ? 'outputHash'
            : !isAddressEqual(receipt.backend, lease.address as Address)
              ? 'backend'
              : null;
  if (mismatch) throw new UntrustedAnswer(`receipt ${mismatch} does not match the call`);
  for (const spec of opts.model.outputs) if (!outputs[spec.name]) throw new UntrustedAnswer(`output "${spec.name}" is missing`);
  const verdict = await verifyReceipt(receipt, { trustedBackends: [lease.address as Address] });
  if (!verdict.valid) throw new UntrustedAnswer(`receipt does not verify (${verdict.reasons.join(', ')}): signer ${verdict.signer ?? 'unknown'}`);
  return {
    outputs,
    outputBytes,
    backendId: lease.id,
    receipt: { ...receipt, model: opts.model.name, version: opts.model.version },
  };
}

function parseReceiptHeader(header: string | null): InferenceReceipt {
  if (!header) throw new UntrustedAnswer('no receipt');
  try {
    const json = JSON.parse(atob(header.replace(/-/g, '+').replace(/_/g, '/'))) as InferenceReceipt;
    const t = json.timings;
    if (
      typeof json.executionProvider !== 'string' ||
      !Number.isSafeInteger(json.issuedAt) ||
      typeof json.signature !== 'string' ||
      !t ||
      ![t.queueMs, t.runMs, t.totalMs].every((n) => typeof n === 'number' && Number.isFinite(n))
    ) {
      throw new Error('fields');
    }
    return {
      requestId: json.requestId,
      modelSha256: json.modelSha256,
      inputHash: json.inputHash,
      outputHash: json.outputHash,
      backend: json.backend,
      executionProvider: json.executionProvider,
      issuedAt: json.issuedAt,
      model: '',
      version: 0,
      timings: { queueMs: t.queueMs, runMs: t.runMs, totalMs: t.totalMs },
      signature: json.signature,
    };
  } catch {
    throw new UntrustedAnswer('receipt header is malformed');
  }
}
