import { bytesToHex, isAddressEqual, type Address, type Hex } from 'viem';
import { BACKEND_LOAD_HEADERS, BACKEND_PATHS, runTermsHeaders } from '../../core/backend-protocol';
import { ProofgateError } from '../../core/errors';
import { GATEWAY_HEADERS, backendAuthLabel, deriveNodeAuthKey, gatewayRequestHeaders, importNodeAuthKey } from '../../core/node-protocol';
import {
  SignerKeyCache,
  isReceiptV2,
  receiptCharge,
  receiptDigest,
  type InferenceReceipt,
  type ReceiptChargeFields,
  type ReceiptFieldsV2,
  type RunTerms,
} from '../../core/receipts';
import { InvalidTensorError, TENSORS_MEDIA_TYPE, decodeTensors, sha256Hex } from '../../core/tensors';
import { backendPool, type BackendPool } from '../../durable-objects/backend-pool';
import type { ModelVersion } from '../hub/model-store';
import { poolRouter, type RouteChoice } from './pool-routing';

/** No healthy backend serves the model right now, or every one that does is full or draining. */
export class NoBackendAvailableError extends ProofgateError {
  constructor(model: string, saturated: boolean) {
    super(
      saturated ? 'pool_saturated' : 'no_backend_available',
      saturated ? `every backend serving model "${model}" is at capacity; retry shortly` : `no healthy backend serves model "${model}" right now`,
      503,
      { retryAfterSeconds: saturated ? 1 : 5 },
    );
  }
}

/** Every backend tried failed (or returned something that did not verify). Details are logged, not sent. */
export class BackendFailedError extends ProofgateError {
  constructor() {
    super('backend_failed', 'inference failed on the backends tried', 502);
  }
}

/** The model itself could not run on the inputs (or its outputs would be too large): the caller's fault, not retried. */
export class ModelRejectedInputError extends ProofgateError {
  constructor(code: 'model_rejected_input' | 'output_too_large') {
    super(code, code === 'output_too_large' ? 'the outputs for these inputs are too large' : 'the model could not run on these inputs', 422);
  }
}

// A backend answer that cannot be trusted: counted as that backend's failure and retried elsewhere.
class UntrustedAnswer extends Error {}
// A backend that refused the call before doing anything (full or draining): try another, no penalty.
class Refused extends Error {}

/**
 * What an accepted call yields: the output encoding and a version 2 receipt whose signature, hashes,
 * terms (those the call was sent with) and charge (the terms applied to its signed run time) were checked.
 */
export interface InferenceResult {
  outputBytes: Uint8Array;
  receipt: InferenceReceipt & ReceiptFieldsV2;
  backendId: string;
  /** Time spent waiting for the backend's answer, in milliseconds. */
  backendMs: number;
}

/** What one call needs from the Worker: its bindings, the model, and the canonical input bytes with their hash. */
export interface DispatchOptions {
  pool: DurableObjectNamespace<BackendPool>;
  gatewaySecret: string;
  waitUntil: (p: Promise<unknown>) => void;
  model: ModelVersion;
  inputBytes: Uint8Array;
  inputHash: Hex;
  /** The admission policy, pricing terms and payment the backend signs into the receipt with its charge. */
  terms: RunTerms;
  timeoutMs?: number;
  maxOutputBytes?: number;
}

/** Real failures (answers that fail or do not verify) allowed per call: the first backend and one more. */
export const MAX_FAILURES = 2;
/** Backends asked per call at most, counting those that refused because they were full or draining. */
export const MAX_BACKENDS_PER_CALL = 6;

// Checked receipts' signers: each backend's public key is recovered once, then verified against.
const signerKeys = new SignerKeyCache();
// Each backend's request-authentication key, derived and imported once per isolate.
const authKeys = new Map<string, Promise<CryptoKey>>();

function authKeyFor(gatewaySecret: string, address: string): Promise<CryptoKey> {
  const id = address.toLowerCase();
  let key = authKeys.get(id);
  if (!key) {
    key = deriveNodeAuthKey(gatewaySecret, backendAuthLabel(address)).then(importNodeAuthKey);
    key.catch(() => authKeys.delete(id));
    authKeys.set(id, key);
  }
  return key;
}

/**
 * Runs one inference call on the pool: picks a backend from this isolate's pool snapshot, sends
 * the canonical tensors and the call's terms with HMACs the backend checks, and verifies the receipt
 * (signer = the registered backend, hashes = what was sent and received, terms = what was sent,
 * charge = the terms applied to the signed run time) before anything is returned. A backend
 * that is full or draining is skipped at no cost; one that fails is rested and the call fails over once.
 */
export async function dispatchInference(opts: DispatchOptions): Promise<InferenceResult> {
  const requestId = bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
  await poolRouter.ready(opts.pool, opts.waitUntil, Date.now());
  const tried: string[] = [];
  let failures = 0;
  let refusals = 0;
  while (failures < MAX_FAILURES && tried.length < MAX_BACKENDS_PER_CALL) {
    let route = poolRouter.pick(opts.model.sha256, tried, Date.now());
    if (!route && tried.length === 0) {
      // Nothing in this isolate's view: the pool may know of a backend registered since.
      await poolRouter.refresh(opts.pool);
      route = poolRouter.pick(opts.model.sha256, tried, Date.now());
    }
    if (!route) break;
    tried.push(route.id);
    const end = poolRouter.begin(route.id);
    try {
      return await callBackend(opts, route, requestId);
    } catch (err) {
      if (err instanceof ModelRejectedInputError) throw err;
      if (err instanceof Refused) {
        refusals++;
        continue;
      }
      failures++;
      poolRouter.failed(route.id, Date.now());
      opts.waitUntil(backendPool(opts.pool).reportFailure(route.id));
      console.warn(`backend ${route.id} failed request ${requestId}: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      end();
    }
  }
  if (failures > 0) throw new BackendFailedError();
  throw new NoBackendAvailableError(opts.model.name, refusals > 0);
}

/** One attempt on one chosen backend, its receipt verified (quorum/call.ts runs each operator's backend with it); throws on any failure. */
export async function callBackend(opts: DispatchOptions, route: RouteChoice, requestId: Hex): Promise<InferenceResult> {
  const path = BACKEND_PATHS.run;
  const authKey = await authKeyFor(opts.gatewaySecret, route.address);
  const [auth, terms] = await Promise.all([
    gatewayRequestHeaders(authKey, {
      method: 'POST',
      path,
      requestId,
      subject: opts.model.sha256,
      bodySha256: opts.inputHash,
      timestamp: Date.now(),
    }),
    runTermsHeaders(authKey, requestId, opts.terms),
  ]);
  const sent = Date.now();
  const res = await fetch(`${route.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': TENSORS_MEDIA_TYPE, ...auth, ...terms },
    body: opts.inputBytes,
    signal: AbortSignal.timeout(opts.timeoutMs ?? 120_000),
  });
  const depth = Number(res.headers.get(BACKEND_LOAD_HEADERS.queueDepth));
  const capacity = Number(res.headers.get(BACKEND_LOAD_HEADERS.queueCapacity));
  if (Number.isSafeInteger(depth) && Number.isSafeInteger(capacity) && res.headers.has(BACKEND_LOAD_HEADERS.queueDepth)) {
    poolRouter.reported(
      route.id,
      { queueDepth: depth, queueCapacity: capacity, draining: res.headers.get(BACKEND_LOAD_HEADERS.draining) === '1' },
      Date.now(),
    );
  }
  if (res.status === 422) {
    const body = (await res.json().catch(() => null)) as { error?: { code?: string } } | null;
    throw new ModelRejectedInputError(body?.error?.code === 'output_too_large' ? 'output_too_large' : 'model_rejected_input');
  }
  if (res.status === 503) {
    const body = (await res.json().catch(() => null)) as { error?: { code?: string } } | null;
    const code = body?.error?.code;
    if (code === 'backend_saturated' || code === 'backend_draining') {
      if (code === 'backend_draining')
        poolRouter.reported(route.id, { queueDepth: depth || 0, queueCapacity: capacity || 0, draining: true }, Date.now());
      throw new Refused(code);
    }
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new UntrustedAnswer(`HTTP ${res.status}`);
  }
  const declared = Number(res.headers.get('content-length'));
  const maxOutputBytes = opts.maxOutputBytes ?? 256 * 1024 * 1024;
  if (declared > maxOutputBytes) {
    await res.body?.cancel();
    throw new UntrustedAnswer('output too large');
  }
  const outputBytes = new Uint8Array(await res.arrayBuffer());
  const backendMs = Date.now() - sent;
  if (outputBytes.byteLength > maxOutputBytes) throw new UntrustedAnswer('output too large');
  const receipt = parseReceiptHeader(res.headers.get(GATEWAY_HEADERS.receipt));
  const outputHash = await sha256Hex(outputBytes);
  const mismatch =
    receipt.requestId !== requestId
      ? 'requestId'
      : receipt.modelSha256 !== opts.model.sha256
        ? 'modelSha256'
        : receipt.inputHash !== opts.inputHash
          ? 'inputHash'
          : receipt.outputHash !== outputHash
            ? 'outputHash'
            : !isAddressEqual(receipt.backend, route.address as Address)
              ? 'backend'
              : termsMismatch(receipt, opts.terms);
  if (mismatch) throw new UntrustedAnswer(`receipt ${mismatch} does not match the call`);
  checkOutputs(outputBytes, opts.model);
  if (!signerKeys.verify(receiptDigest(receipt), receipt.signature, route.address)) {
    throw new UntrustedAnswer('receipt signature does not verify for the registered backend key');
  }
  return {
    outputBytes,
    backendId: route.id,
    backendMs,
    receipt: { ...receipt, model: opts.model.name, version: opts.model.version },
  };
}

// The answer must be a canonical encoding holding every declared output (read from headers only).
function checkOutputs(outputBytes: Uint8Array, model: ModelVersion): void {
  let outputs: Record<string, unknown>;
  try {
    outputs = decodeTensors(outputBytes);
  } catch (err) {
    throw new UntrustedAnswer(err instanceof InvalidTensorError ? `outputs: ${err.message}` : 'outputs do not decode');
  }
  for (const spec of model.outputs) if (!outputs[spec.name]) throw new UntrustedAnswer(`output "${spec.name}" is missing`);
}

// The terms the receipt signs must be those the call was sent with, and its charge those terms
// applied to its signed run time: what the payer is charged is what the backend signed.
function termsMismatch(receipt: ReceiptFieldsV2, terms: RunTerms): string | null {
  // Hex values (ids, nonces, addresses) compare in any case; amounts and names as they are.
  for (const key of ['policyId', 'paymentAsset', 'payer', 'paymentNonce'] as const) {
    if (receipt[key].toLowerCase() !== terms[key].toLowerCase()) return key;
  }
  for (const key of ['priceBase', 'pricePerMs', 'priceCap', 'paymentScheme', 'paymentNetwork'] as const) {
    if (receipt[key] !== terms[key]) return key;
  }
  return receiptCharge(terms, receipt.runMs) === receipt.charged ? null : 'charged';
}

// A version 2 receipt's fields, typed as they are signed (amounts as decimal strings, runMs an integer).
function chargeFieldsOf(json: Record<string, unknown>): ReceiptChargeFields {
  const text = (key: string): string => {
    const value = json[key];
    if (typeof value !== 'string') throw new Error(key);
    return value;
  };
  const runMs = json['runMs'];
  if (typeof runMs !== 'number' || !Number.isSafeInteger(runMs) || runMs < 0) throw new Error('runMs');
  if (!/^(0|[1-9][0-9]{0,77})$/.test(text('charged'))) throw new Error('charged');
  return {
    policyId: text('policyId') as Hex,
    runMs,
    priceBase: text('priceBase'),
    pricePerMs: text('pricePerMs'),
    priceCap: text('priceCap'),
    charged: text('charged'),
    paymentScheme: text('paymentScheme') as ReceiptFieldsV2['paymentScheme'],
    paymentNetwork: text('paymentNetwork'),
    paymentAsset: text('paymentAsset') as Address,
    payer: text('payer') as Address,
    paymentNonce: text('paymentNonce') as Hex,
  };
}

function parseReceiptHeader(header: string | null): InferenceReceipt & ReceiptFieldsV2 {
  if (!header) throw new UntrustedAnswer('no receipt');
  try {
    const json = JSON.parse(atob(header.replace(/-/g, '+').replace(/_/g, '/'))) as InferenceReceipt;
    const t = json.timings;
    if (
      typeof json.executionProvider !== 'string' ||
      !Number.isSafeInteger(json.issuedAt) ||
      json.issuedAt < 0 ||
      typeof json.signature !== 'string' ||
      !t ||
      ![t.queueMs, t.runMs, t.totalMs].every((n) => typeof n === 'number' && Number.isFinite(n)) ||
      !isReceiptV2(json)
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
      ...chargeFieldsOf(json as unknown as Record<string, unknown>),
      model: '',
      version: 0,
      timings: { queueMs: t.queueMs, runMs: t.runMs, totalMs: t.totalMs },
      signature: json.signature,
    };
  } catch {
    throw new UntrustedAnswer('receipt header is malformed');
  }
}
