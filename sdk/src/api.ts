/**
 * One function per gateway action (besides inference, in infer.ts): each takes the gateway options
 * and the action's arguments, returns the parsed answer, and throws the error class of the
 * gateway's answer with its code. `createClient` binds them to one gateway.
 */
import type { Address, Hex, LocalAccount } from 'viem';
import type { Attestation, Intent, OutputTolerance } from '../../core/attestation';
import type { TaskView } from '../../core/operator-protocol/task-view';
// One module each, not the folders' indexes: the explorer's pages bundle this file without BLS or zod.
import { consumeConsentTypedData, type ConsumeConsent } from '../../core/attestation/consume-consent';
import { ProofgateError } from '../../core/errors';
import type { InferenceReceipt } from '../../core/receipts';
import type { TensorType } from '../../core/tensors';
import { sha256Hex } from '../../core/tensors/tensor-hash';
import { GatewayUnreachableError } from './errors';
import { gatewayFetch, gatewayJson, query, type GatewayOptions } from './gateway';

/** A declared input or output of a model (`null` for a symbolic dim; `dims: null` when the rank is unknown). */
export interface TensorSpec {
  name: string;
  type: TensorType;
  dims: (number | null)[] | null;
}

/** A model as `GET /v1/models` lists it: its latest version. */
export interface ModelSummary {
  name: string;
  latestVersion: number;
  sha256: Hex;
  size: number;
  /** Price per call in the payment asset's smallest units ("0" is free); for a metered model, its cap. */
  price: string;
  settlement: 'sync' | 'async';
  /** `fixed`: a call costs `price`; `metered`: `min(price, base + ratePerMs × run ms)`, paid with x402 `upto`. */
  pricing: 'fixed' | 'metered';
  /** A metered call's price per millisecond of backend run time ("0" when fixed). */
  ratePerMs: string;
  /** A metered call's price before its run time ("0" when fixed). */
  base: string;
  /** Quorum inference terms (`?mode=quorum`): the stake an attestation of its outputs needs, and the tolerance of agreement. */
  quorum?: { thresholdBps: number; tolerance: OutputTolerance };
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

/** One published version of a model. */
export interface ModelVersion {
  name: string;
  version: number;
  sha256: Hex;
  size: number;
  /** Price per call in the payment asset's smallest units ("0" is free); for a metered model, its cap. */
  price: string;
  settlement: 'sync' | 'async';
  /** `fixed`: a call costs `price`; `metered`: `min(price, base + ratePerMs × run ms)`, paid with x402 `upto`. */
  pricing: 'fixed' | 'metered';
  /** A metered call's price per millisecond of backend run time ("0" when fixed). */
  ratePerMs: string;
  /** A metered call's price before its run time ("0" when fixed). */
  base: string;
  /** Quorum inference terms (`?mode=quorum`): the stake an attestation of its outputs needs, and the tolerance of agreement. */
  quorum?: { thresholdBps: number; tolerance: OutputTolerance };
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  createdAt: string;
}

/** A backend as `GET /v1/backends` lists it. */
export interface BackendInfo {
  id: string;
  address: Address;
  url?: string;
  executionProvider: string;
  models: '*' | string[];
  status: string;
  healthy: boolean;
  inFlight: number;
  lastHeartbeatAt: number | string | null;
  registeredAt: string;
}

/**
 * An operator as `GET /v1/operators` lists it: a member of the OperatorRegistry on chain (its stake
 * at the listed block), or a signer node registered at the gateway that is no member (stake "0").
 */
export interface OperatorInfo {
  id: string;
  blsPublicKey: Hex;
  /** Stake at the listed registry block ("0": not a member, gets no task). */
  stake: string;
  /** Its signer node at the gateway (URL for admins only), or null when none is registered. */
  node: { proofOfPossession: Hex; address: Address | null; url?: string; registeredAt: string } | null;
}

/** `GET /v1/operators`: the registry snapshot the listing is of (null where the gateway has none configured), and the operators. */
export interface OperatorSet {
  registry: { address: Address; blockNumber: number } | null;
  operators: OperatorInfo[];
}

/** An intent: a transaction someone wants to execute. */
export type { Intent } from '../../core/attestation/intent-hash';
/** A task: one intent under one policy, decided by operators (`GET /v1/tasks/{id}`). */
export type { TaskView } from '../../core/operator-protocol/task-view';

/** A stored receipt with when the gateway recorded it (`GET /v1/receipts`). */
export type ListedReceipt = InferenceReceipt & { createdAt?: string };

/** A task as `GET /v1/tasks` lists it. */
export interface ListedTask {
  taskId: Hex;
  policyId: Hex;
  chainId: number;
  status: string | null;
  allowed: boolean | null;
  /** The registry snapshot the task is judged under (null when the gateway has no view of it). */
  registry: Address | null;
  registryBlock: number | null;
  createdAt: string;
}

/** A payment as `GET /v1/payments/{id}` shows it. */
export interface PaymentView {
  id: string;
  state: 'reserved' | 'settling' | 'pending' | 'settled' | 'released' | 'failed';
  settlement: string;
  /** `exact` or `upto`. */
  scheme: string;
  network: string;
  asset: Address;
  payer: Address;
  payTo: Address;
  /** What the payment authorizes (for `upto`, the most it may charge). */
  amount: string;
  /** What was charged (the receipt's `charged`), once known. */
  charged: string | null;
  nonce: string;
  model: string;
  version: number;
  requestId: Hex | null;
  transaction: Hex | null;
  /** A reason code or a fixed sentence. */
  error: string | null;
  attempts: number;
  nextAttemptAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** A stored Rego policy. */
export interface PolicyView {
  id: Hex;
  modules: Record<string, string>;
  entrypoint: string;
  params: unknown;
  policyData: { name: string; sha256: Hex }[];
  /** Stake quorum of intents under this policy, in basis points (part of the content, hence of the id). */
  thresholdBps: number;
  createdAt: string;
}

/** What `POST /v1/policies` takes. */
export interface PolicyContent {
  modules: Record<string, string>;
  /** The package whose `allow`/`deny` decide (default data.proofgate.admission). */
  entrypoint?: string;
  params?: unknown;
  policyData?: { name: string; sha256: Hex }[];
  /** Stake quorum for intents under this policy, in basis points. */
  thresholdBps?: number;
}

/** The route list and name `GET /` gives API clients. */
export async function getIndex(g: GatewayOptions): Promise<{ name: string; endpoints: string[] }> {
  return gatewayJson(g, { path: '/' });
}

/** `GET /healthz`: true once the gateway's database answers. */
export async function getHealth(g: GatewayOptions): Promise<{ ok: boolean }> {
  return gatewayJson(g, { path: '/healthz' });
}

/** The gateway's OpenAPI 3.1 description. */
export async function getOpenApi(g: GatewayOptions): Promise<Record<string, unknown>> {
  return gatewayJson(g, { path: '/openapi.json' });
}

/** The latest version of every model. */
export async function listModels(g: GatewayOptions): Promise<ModelSummary[]> {
  return (await gatewayJson<{ models: ModelSummary[] }>(g, { path: '/v1/models' })).models;
}

/** Every version of a model, newest first. */
export async function getModel(g: GatewayOptions, name: string): Promise<ModelVersion[]> {
  return (await gatewayJson<{ versions: ModelVersion[] }>(g, { path: `/v1/models/${encodeURIComponent(name)}` })).versions;
}

/** Metered pricing: a call costs `min(cap, base + ratePerMs × run ms)` in the payment asset's smallest units, paid with x402 `upto`. */
export interface MeteredPricing {
  /** Price per millisecond of backend run time (above 0). */
  ratePerMs: string | number | bigint;
  /** Price before the run time (default 0). */
  base?: string | number | bigint;
  /** Most one call costs (above 0, at least `base`): what a payer authorizes. */
  cap: string | number | bigint;
}

/** Options of `publishModel`. */
export interface PublishOptions {
  /** Fixed price per call in the payment asset's smallest units (default "0": free). */
  price?: string | number | bigint;
  /** Price by backend run time instead of a fixed price (not with `price`). */
  metered?: MeteredPricing;
  /** When a priced call's payment settles: before answering (sync, default) or after (async). */
  settlement?: 'sync' | 'async';
  /** Called as bytes are handed to the network (for progress bars). */
  onProgress?: (sentBytes: number, totalBytes: number) => void;
  /** Models larger than this go up as a multipart upload, in parts of this size (default 32 MiB; the gateway takes parts of 5 to 64 MiB). */
  partBytes?: number;
}

/** A published model version, and whether this call created it. */
export type PublishedModel = ModelVersion & { created: boolean };

/** What `POST /v1/models/{name}/uploads` answers: the upload and the gateway's part limits. */
interface StartedUpload {
  uploadId: string;
  partBytes: number;
  minPartBytes: number;
  maxPartBytes: number;
  maxParts: number;
  maxBytes: number;
}

const DEFAULT_PART_BYTES = 32 * 1024 * 1024;
const PART_ATTEMPTS = 3;

/** The gateway stored other bytes than this client sent. */
export class UploadHashMismatchError extends ProofgateError {
  constructor(expected: string, stored: string) {
    super('upload_hash_mismatch', `the gateway stored ${stored}, the model hashes to ${expected}`, 502, { expected, stored });
  }
}

/**
 * Publishes ONNX bytes as the next version of `name` (admin): in one request, or, above `partBytes`,
 * as a multipart upload (`POST …/uploads`, one `PUT …/parts/N` each, then `…/complete`; a failed
 * upload is abandoned with `DELETE`), since a gateway takes less in one request than a model may
 * be. Checks that the gateway stored exactly these bytes. Identical bytes and terms again return the
 * existing version with `created: false`.
 */
export async function publishModel(g: GatewayOptions, name: string, bytes: Uint8Array, options: PublishOptions = {}): Promise<PublishedModel> {
  const target = publishQuery(options);
  const model = `/v1/models/${encodeURIComponent(name)}`;
  const partBytes = options.partBytes ?? DEFAULT_PART_BYTES;
  const progress = options.onProgress;
  const sha256 = sha256Hex(bytes);
  let published: PublishedModel;
  if (bytes.length <= partBytes) {
    published = await gatewayJson(g, {
      path: `${model}/versions${target}`,
      method: 'POST',
      auth: 'admin',
      ...streamed(bytes, 0, bytes.length, progress),
    });
  } else {
    const started = await gatewayJson<StartedUpload>(g, { path: `${model}/uploads`, method: 'POST', auth: 'admin' });
    const uploads = `${model}/uploads/${encodeURIComponent(started.uploadId)}`;
    try {
      checkParts(bytes.length, partBytes, started);
      const parts: { partNumber: number; etag: string }[] = [];
      for (let start = 0, partNumber = 1; start < bytes.length; start += partBytes, partNumber++) {
        const part = bytes.subarray(start, Math.min(bytes.length, start + partBytes));
        const path = `${uploads}/parts/${partNumber}`;
        const sent = await withRetries(() =>
          gatewayJson<{ partNumber: number; etag: string }>(g, {
            path,
            method: 'PUT',
            auth: 'admin',
            ...streamed(part, start, bytes.length, progress),
          }),
        );
        parts.push({ partNumber: sent.partNumber, etag: sent.etag });
      }
      published = await gatewayJson(g, { path: `${uploads}/complete${target}`, method: 'POST', auth: 'admin', json: { parts } });
    } catch (err) {
      await gatewayFetch(g, { path: uploads, method: 'DELETE', auth: 'admin' }).catch(() => undefined); // drop the parts
      throw err;
    }
  }
  const expected = await sha256;
  if (published.sha256 !== expected) throw new UploadHashMismatchError(expected, published.sha256);
  return published;
}

// `?price=…` or `?pricing=metered&ratePerMs=…&base=…&cap=…`, with the settlement mode.
function publishQuery(options: PublishOptions): string {
  if (options.metered && options.price !== undefined) throw new TypeError('publishModel takes a fixed price or metered pricing, not both');
  const settlement = options.settlement;
  if (!options.metered) return query({ price: String(options.price ?? '0'), settlement });
  const m = options.metered;
  return query({ pricing: 'metered', ratePerMs: String(m.ratePerMs), base: String(m.base ?? '0'), cap: String(m.cap), settlement });
}

// Refused before a byte is sent: parts the gateway would refuse only at completion.
function checkParts(total: number, partBytes: number, limits: StartedUpload): void {
  if (total > limits.maxBytes) throw new TypeError(`the model is ${total} bytes; this gateway takes at most ${limits.maxBytes}`);
  if (partBytes < limits.minPartBytes || partBytes > limits.maxPartBytes) {
    throw new TypeError(`partBytes must be from ${limits.minPartBytes} to ${limits.maxPartBytes} at this gateway (it suggests ${limits.partBytes})`);
  }
  if (Math.ceil(total / partBytes) > limits.maxParts) throw new TypeError(`more than ${limits.maxParts} parts: raise partBytes`);
}

// A part is sent again after a network error or a 5xx (R2 keeps the last copy of a part number).
async function withRetries<T>(attempt: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      const transient = err instanceof GatewayUnreachableError || (err instanceof ProofgateError && err.status >= 500);
      if (!transient || i === PART_ATTEMPTS) throw err;
    }
  }
}

// With a progress callback the body is streamed in slices, so that progress follows what the network
// has taken (Node; browsers stream request bodies only over HTTP/2); without one it is sent whole.
function streamed(bytes: Uint8Array, offset: number, total: number, progress: ((sent: number, total: number) => void) | undefined) {
  if (!progress) return { body: bytes as BodyInit, contentType: 'application/octet-stream' };
  const slice = 256 * 1024;
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= bytes.length) {
        controller.close();
        return;
      }
      const chunk = bytes.subarray(sent, Math.min(bytes.length, sent + slice));
      sent += chunk.length;
      controller.enqueue(chunk);
      progress(offset + sent, total);
    },
  });
  return {
    body,
    contentType: 'application/octet-stream',
    headers: { 'content-length': String(bytes.length) },
    duplex: 'half' as const,
  };
}

/** Downloads model bytes by content hash and checks that they hash to it (see `downloadModel` in blobs.ts). */
export async function getBlobResponse(g: GatewayOptions, sha256: Hex): Promise<Response> {
  return gatewayFetch(g, { path: `/v1/blobs/${sha256.toLowerCase()}` });
}

/** A stored receipt by request id. */
export async function getReceipt(g: GatewayOptions, requestId: Hex): Promise<InferenceReceipt> {
  return gatewayJson(g, { path: `/v1/receipts/${requestId}` });
}

/** The most recent receipts, newest first. */
export async function listReceipts(g: GatewayOptions, options: { limit?: number; model?: string } = {}): Promise<ListedReceipt[]> {
  return (await gatewayJson<{ receipts: ListedReceipt[] }>(g, { path: `/v1/receipts${query({ limit: options.limit, model: options.model })}` }))
    .receipts;
}

/** A payment's state and transaction. */
export async function getPayment(g: GatewayOptions, id: string): Promise<PaymentView> {
  return gatewayJson(g, { path: `/v1/payments/${encodeURIComponent(id)}` });
}

/** Registered backends with health and load (URLs only with the admin token). */
export async function listBackends(g: GatewayOptions): Promise<BackendInfo[]> {
  return (await gatewayJson<{ backends: BackendInfo[] }>(g, { path: '/v1/backends', auth: g.adminToken ? 'admin' : 'none' })).backends;
}

/**
 * The operators: the OperatorRegistry's members at the latest block (stakes live on chain) and the
 * signer nodes registered at the gateway (their URLs only with the admin token).
 */
export async function getOperators(g: GatewayOptions): Promise<OperatorSet> {
  return gatewayJson(g, { path: '/v1/operators', auth: g.adminToken ? 'admin' : 'none' });
}

/** The operators of `getOperators`, without the registry block they are listed at. */
export async function listOperators(g: GatewayOptions): Promise<OperatorInfo[]> {
  return (await getOperators(g)).operators;
}

/**
 * Registers a signer node (operator token) with a body its key signed (signer-node builds it).
 * Tasks reach it only while the OperatorRegistry on chain lists its id with the same key and a stake.
 */
export async function registerOperator(g: GatewayOptions, body: Record<string, unknown>): Promise<{ id: string; created: boolean }> {
  const { id, created } = await gatewayJson<{ id: string; created: boolean; authKey?: string }>(g, {
    path: '/v1/operators/register',
    method: 'POST',
    auth: 'operator',
    json: body,
  });
  return { id, created }; // the auth key is the node's secret: a registration from here does not keep it
}

/** Creates a Rego policy (admin); its id is its content hash. */
export async function createPolicy(g: GatewayOptions, policy: PolicyContent): Promise<PolicyView & { created: boolean }> {
  return gatewayJson(g, { path: '/v1/policies', method: 'POST', auth: 'admin', json: policy });
}

/** A stored policy. */
export async function getPolicy(g: GatewayOptions, id: Hex): Promise<PolicyView> {
  return gatewayJson(g, { path: `/v1/policies/${id}` });
}

/** Evaluates a rule of a stored policy in the gateway (admin), as admission would. */
export async function evaluatePolicy(
  g: GatewayOptions,
  id: Hex,
  body: { input: unknown; rule?: string; time?: string },
): Promise<{ rule: string; defined: boolean; value?: unknown }> {
  return gatewayJson(g, { path: `/v1/policies/${id}/evaluate`, method: 'POST', auth: 'admin', json: body });
}

/** Binds a policy to a model: every call is admitted by it (admin). */
export async function bindModelPolicy(g: GatewayOptions, model: string, policyId: Hex): Promise<{ model: string; policyId: Hex }> {
  return gatewayJson(g, { path: `/v1/models/${encodeURIComponent(model)}/policy`, method: 'PUT', auth: 'admin', json: { policyId } });
}

/** Removes a model's policy (admin). */
export async function unbindModelPolicy(g: GatewayOptions, model: string): Promise<{ model: string; removed: boolean }> {
  return gatewayJson(g, { path: `/v1/models/${encodeURIComponent(model)}/policy`, method: 'DELETE', auth: 'admin' });
}

/** Creates an API key (admin); the key is shown only in this answer. */
export async function createApiKey(g: GatewayOptions, label: string): Promise<{ id: string; key: string; label: string }> {
  return gatewayJson(g, { path: '/v1/api-keys', method: 'POST', auth: 'admin', json: { label } });
}

/** Uploads a PolicyData WebAssembly module (admin); stored under its sha256. */
export async function uploadPolicyData(g: GatewayOptions, wasm: Uint8Array): Promise<{ sha256: Hex; size: number; created: boolean }> {
  return gatewayJson(g, { path: '/v1/policy-data', method: 'POST', auth: 'admin', body: wasm as BodyInit, contentType: 'application/wasm' });
}

/** What `submitIntent` takes besides the intent. */
export interface SubmitIntentOptions {
  policyId: Hex;
  /** The relying party that may consume the attestation (default none: then nobody may consume it). */
  policyClient?: Address;
  /** Newton's `wasm_args`: the input of the policy's `newton:provider` PolicyData (docs/newton-compatibility.md). */
  wasmArgs?: Record<string, unknown>;
  /** The signature of the function the intent calls (Newton). */
  functionSignature?: string;
  /** How long the gateway waits for the attestation before answering with the pending task (ms, ≤ 30000). */
  waitMs?: number;
  /** How long operators have to reach a quorum (s). */
  deadlineSeconds?: number;
  /** How long the attestation stays usable (s). */
  validForSeconds?: number;
}

/**
 * Submits an intent under a policy; the task comes back completed (with its attestation) or still
 * pending. Without an API key the gateway limits intents per caller: `RateLimitedError`
 * (`rate_limited`, `details.retryAfterSeconds`).
 */
export async function submitIntent(g: GatewayOptions, intent: Intent, options: SubmitIntentOptions): Promise<TaskView> {
  return gatewayJson(g, { path: '/v1/intents', method: 'POST', auth: 'apiKey', json: { intent, ...options } });
}

/** A task's status, signers and attestation. */
export async function getTask(g: GatewayOptions, taskId: Hex): Promise<TaskView> {
  return gatewayJson(g, { path: `/v1/tasks/${taskId}` });
}

/** Polls a task until it is completed or failed (or `timeoutMs` passes, then returns what it has). */
export async function waitForTask(g: GatewayOptions, taskId: Hex, options: { timeoutMs?: number; intervalMs?: number } = {}): Promise<TaskView> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    const task = await getTask(g, taskId);
    if (task.status === 'completed' || task.status === 'failed' || Date.now() >= deadline) return task;
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 250));
  }
}

/** The most recent tasks, newest first. */
export async function listTasks(g: GatewayOptions, options: { limit?: number } = {}): Promise<ListedTask[]> {
  return (await gatewayJson<{ tasks: ListedTask[] }>(g, { path: `/v1/tasks${query({ limit: options.limit })}` })).tasks;
}

/** What the relying party expects of an attestation, checked by the gateway. */
export interface AttestationExpectations {
  chainId?: number;
  policyId?: Hex;
  policyClient?: Address;
  requireAllowed?: boolean;
}

/** Asks the gateway to verify an attestation against the registry snapshot it names, its policy's quorum and the single-use ledger. */
export async function checkAttestationAtGateway(
  g: GatewayOptions,
  attestation: unknown,
  expect: AttestationExpectations = {},
): Promise<{ valid: boolean; reasons: string[] }> {
  return gatewayJson(g, { path: '/v1/attestations/verify', method: 'POST', json: { attestation, ...expect } });
}

/** How `consumeAttestation` proves that the attestation's policy client asks for it. */
export interface ConsumeOptions extends AttestationExpectations {
  /**
   * The policy client's account (a viem LocalAccount or anything with `signTypedData`): it signs the
   * EIP-712 `AttestationConsumption(bytes32 digest,uint64 issuedAt)` the gateway requires.
   */
  account: Pick<LocalAccount, 'signTypedData'>;
  /** The time the consent is issued at, unix seconds (default now; the gateway takes ±300 s). */
  now?: number;
}

/**
 * The policy client's consent to spend `attestation`: its EIP-712 signature over the
 * attestation's digest and the time (domain `{name: "Proofgate", version: "1", chainId}`).
 */
export async function consumeConsent(
  account: ConsumeOptions['account'],
  attestation: unknown,
  now = Math.floor(Date.now() / 1000),
): Promise<ConsumeConsent> {
  const a = attestation as Partial<Attestation> | null;
  if (typeof a?.digest !== 'string' || typeof a.chainId !== 'number') throw new TypeError('not an attestation: it needs a digest and a chainId');
  const signature = await account.signTypedData(consumeConsentTypedData(a.digest, a.chainId, now));
  return { issuedAt: now, signature };
}

/**
 * Verifies and uses an attestation once at the gateway, as its policy client: `account` signs the
 * consent. Refused: another signer (ForbiddenError `not_policy_client`), a stale time
 * (UnauthorizedError `stale_consume_consent`), an attestation bound to no policy client
 * (UnprocessableError `attestation_unbound`), a second consume (ConflictError `attestation_already_used`).
 */
export async function consumeAttestation(
  g: GatewayOptions,
  attestation: unknown,
  options: ConsumeOptions,
): Promise<{ consumed: true; digest: Hex; consumedAt: string }> {
  const { account, now, ...expect } = options;
  const consent = await consumeConsent(account, attestation, now);
  return gatewayJson(g, { path: '/v1/attestations/consume', method: 'POST', json: { attestation, ...expect, consent } });
}
