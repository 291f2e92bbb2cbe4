import type { BackendPool } from '../durable-objects/backend-pool';
import type { AttestationLedger } from '../durable-objects/attestation-ledger';
import type { TaskQuorum } from '../durable-objects/task-quorum';
import type { NonceLedger } from '../durable-objects/nonce-ledger';
import type { InferenceQuorum } from '../durable-objects/inference-quorum';

/** Bindings and settings of the gateway Worker (see wrangler.toml; secrets via `wrangler secret put`). */
export interface Env {
  DB: D1Database;
  MODELS: R2Bucket;
  BACKEND_POOL: DurableObjectNamespace<BackendPool>;
  /** One authorization task each (quorum of operator signatures). */
  TASK_QUORUM: DurableObjectNamespace<TaskQuorum>;
  /** One quorum inference request each: the reference output, operators' signatures, the attestation and the evidence. */
  INFERENCE_QUORUM: DurableObjectNamespace<InferenceQuorum>;
  /** Single use of attestations, one instance per attestation digest. */
  ATTESTATION_LEDGER: DurableObjectNamespace<AttestationLedger>;
  /** Single-use x402 authorizations, one instance per payer. */
  NONCE_LEDGER: DurableObjectNamespace<NonceLedger>;
  /** Bearer token of the admin endpoints (model uploads). */
  ADMIN_TOKEN: string;
  /** Bearer token a backend presents, besides its own signature, to register. */
  OPERATOR_TOKEN: string;
  /** Secret from which each backend's request-authentication key is derived. */
  GATEWAY_SECRET: string;
  /** Largest inference request body in bytes. */
  MAX_BODY_BYTES?: string;
  /** Largest single-request model upload in bytes (larger models use the multipart upload). */
  MAX_MODEL_BYTES?: string;
  /** x402: chain id of the payment network (eip155). Payments are off unless this and the rest are set. */
  X402_CHAIN_ID?: string;
  /** x402: the EIP-3009 token contract, and its EIP-712 domain name and version. */
  X402_ASSET?: string;
  X402_ASSET_NAME?: string;
  X402_ASSET_VERSION?: string;
  /** x402: who is paid. */
  X402_PAY_TO?: string;
  /** x402: the facilitator's base URL (/verify, /settle, /supported). */
  X402_FACILITATOR_URL?: string;
  /** x402: JSON-RPC URL for the balance, allowance and nonce checks every priced call needs (required for payments). */
  X402_RPC_URL?: string;
  /** x402: how long a client's authorization should stay valid (seconds). */
  X402_MAX_TIMEOUT_SECONDS?: string;
  /** x402: "eip3009" (default) or "permit2" (tokens without EIP-3009; needs Permit2 and the x402 proxy on chain). */
  X402_ASSET_TRANSFER_METHOD?: string;
  /** x402: how long a sync settlement may take before its outcome counts as open (ms, default 30000). */
  X402_SETTLE_TIMEOUT_MS?: string;
  /** x402: the address the facilitator settles from; `upto` payments name it (without it `upto` is not offered). */
  X402_FACILITATOR_ADDRESS?: string;
  /** x402: how long a payment reservation may stay unresolved before its ledger resolves it against the chain (ms, default 600000). */
  X402_RESERVATION_TTL_MS?: string;
  /** R2 bucket for paid replies too large for a Durable Object value (payment-identifier retries); defaults to MODELS. */
  REPLIES?: R2Bucket;
  /** Largest model through the multipart upload, in bytes (default 2 GiB, ONNX's own limit). */
  MAX_MODEL_UPLOAD_BYTES?: string;
  /** The explorer's static assets (wrangler.toml [assets], explorer/public); absent where no explorer is served. */
  ASSETS?: Fetcher;
  /** Workers Analytics Engine dataset: one data point per inference call (optional; declared in wrangler.toml). */
  CALL_METRICS?: AnalyticsEngineDataset;
  /** The OperatorRegistry contract: operators' keys, stakes and membership (tasks and attestations are judged by its snapshots). */
  OPERATOR_REGISTRY_ADDRESS?: string;
  /** JSON-RPC URL of the chain holding the OperatorRegistry (and where attestations are consumed). */
  OPERATOR_REGISTRY_RPC_URL?: string;
  /** Workers Rate Limiting binding for unauthenticated intents (per caller); without it a D1 counter limits them. */
  INTENT_RATE_LIMITER?: RateLimit;
  /** Intents per minute per unauthenticated caller, counted in D1 (also where the binding is bound); default 30 without the binding. */
  INTENT_RATE_LIMIT_PER_MINUTE?: string;
  /** How long (s) a final task stays readable after its attestation expired, before it is erased (default 86400). */
  TASK_RETENTION_SECONDS?: string;
}
