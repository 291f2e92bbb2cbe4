import type { Address, Hex, LocalAccount } from 'viem';
import type { InferenceReceipt } from '../../core/receipts';
import * as api from './api';
import { downloadModel } from './blobs';
import type { GatewayOptions } from './gateway';
import { infer, type InferOptions, type InferResult, type PaymentSettings } from './infer';
import { reExecute, type ReExecuteOptions, type ReExecution } from './reexecute';
import type { TensorInputs } from './tensors';
import { verifyAttestation, type AttestationVerdict, type VerifyAttestationOptions } from './verify-attestation';
import { verifyReceipt, type ReceiptVerification, type VerifyReceiptOptions } from './verify-receipt';

/** What `createClient` takes. */
export interface ClientOptions extends Omit<GatewayOptions, 'gateway'> {
  /** Base URL of the gateway. */
  gateway: string;
  /** A viem LocalAccount (e.g. `privateKeyToAccount(key)`): pays priced models over x402, and signs as policy client when consuming attestations. */
  account?: LocalAccount;
  /** Most one call may cost, in the payment token's smallest units (e.g. "1000" = 0.001 of a 6-decimals token). Without it nothing is paid. */
  maxPrice?: string | number | bigint;
  /** Pin the payment network and token (recommended); by default the gateway's offer is taken, capped by `maxPrice`. */
  payment?: PaymentSettings;
  /** Backends whose receipts are accepted; default `'gateway'`: those registered at the gateway (GET /v1/backends). */
  trustedBackends?: readonly Address[] | 'gateway';
}

/** A client bound to one gateway: every action of the API, with inference verified and paid. */
export type ProofgateClient = ReturnType<typeof createClient>;

/**
 * A client for one gateway. `infer` returns outputs only after their receipt verifies; priced
 * models are paid with the official x402 client, never above `maxPrice`.
 */
export function createClient(options: ClientOptions) {
  const g: GatewayOptions = options;
  const ctx = {
    gateway: g,
    ...(options.account ? { account: options.account } : {}),
    ...(options.maxPrice !== undefined ? { maxPrice: String(options.maxPrice) } : {}),
    ...(options.payment ? { payment: options.payment } : {}),
    trustedBackends: options.trustedBackends ?? 'gateway',
    cache: { versions: new Map() },
  };
  return {
    /** The gateway's base URL. */
    gateway: options.gateway.replace(/\/+$/, ''),
    /** Runs a model: outputs, verified receipt and, for priced models, the payment. */
    infer: (model: string, inputs: TensorInputs, opts?: InferOptions): Promise<InferResult> => infer(ctx, model, inputs, opts),
    /** Verifies a receipt offline; `trustedBackends` defaults to this gateway's registered backends. */
    verifyReceipt: async (receipt: InferenceReceipt, opts: VerifyReceiptOptions = {}): Promise<ReceiptVerification> =>
      verifyReceipt(receipt, { trustedBackends: opts.trustedBackends ?? (await api.listBackends(g)).map((b) => b.address), ...opts }),
    /** Re-executes a receipt locally with onnxruntime-web, the model downloaded from this gateway. */
    reExecute: (opts: Omit<ReExecuteOptions, 'gateway'>): Promise<ReExecution> =>
      reExecute({ gateway: options.gateway, ...(options.fetch ? { fetch: options.fetch } : {}), ...opts }),
    /** Verifies an attestation: offline with `registry` or `chain` (the policy's quorum read from this gateway, hash-checked), else at this gateway. */
    verifyAttestation: (attestation: unknown, opts: Omit<VerifyAttestationOptions, 'gateway'> = {}): Promise<AttestationVerdict> =>
      verifyAttestation(attestation, { gateway: options.gateway, ...(options.fetch ? { fetch: options.fetch } : {}), ...opts }),
    /** Downloads a published model by sha256, checked. */
    downloadModel: (sha256: Hex) => downloadModel(g, sha256),
    getIndex: () => api.getIndex(g),
    getHealth: () => api.getHealth(g),
    getOpenApi: () => api.getOpenApi(g),
    listModels: () => api.listModels(g),
    getModel: (name: string) => api.getModel(g, name),
    publishModel: (name: string, bytes: Uint8Array, opts?: api.PublishOptions) => api.publishModel(g, name, bytes, opts),
    getReceipt: (requestId: Hex) => api.getReceipt(g, requestId),
    listReceipts: (opts?: { limit?: number; model?: string }) => api.listReceipts(g, opts),
    getPayment: (id: string) => api.getPayment(g, id),
    listBackends: () => api.listBackends(g),
    getOperators: () => api.getOperators(g),
    listOperators: () => api.listOperators(g),
    registerOperator: (body: Record<string, unknown>) => api.registerOperator(g, body),
    createPolicy: (policy: api.PolicyContent) => api.createPolicy(g, policy),
    getPolicy: (id: Hex) => api.getPolicy(g, id),
    evaluatePolicy: (id: Hex, body: { input: unknown; rule?: string; time?: string }) => api.evaluatePolicy(g, id, body),
    bindModelPolicy: (model: string, policyId: Hex) => api.bindModelPolicy(g, model, policyId),
    unbindModelPolicy: (model: string) => api.unbindModelPolicy(g, model),
    createApiKey: (label: string) => api.createApiKey(g, label),
    uploadPolicyData: (wasm: Uint8Array) => api.uploadPolicyData(g, wasm),
    submitIntent: (intent: api.Intent, opts: api.SubmitIntentOptions) => api.submitIntent(g, intent, opts),
    getTask: (taskId: Hex) => api.getTask(g, taskId),
    waitForTask: (taskId: Hex, opts?: { timeoutMs?: number; intervalMs?: number }) => api.waitForTask(g, taskId, opts),
    listTasks: (opts?: { limit?: number }) => api.listTasks(g, opts),
    checkAttestation: (attestation: unknown, expect?: api.AttestationExpectations) => api.checkAttestationAtGateway(g, attestation, expect),
    /** Uses an attestation once, as its policy client: `opts.account` (default: this client's account) signs the authorization. */
    consumeAttestation: async (attestation: unknown, opts: Partial<api.ConsumeOptions> = {}) => {
      const account = opts.account ?? options.account;
      if (!account) throw new TypeError("consuming needs the policy client's account (createClient({account}) or {account})");
      return api.consumeAttestation(g, attestation, { ...opts, account });
    },
  };
}
