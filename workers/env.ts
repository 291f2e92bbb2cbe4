import type { BackendPool } from '../durable-objects/backend-pool';
import type { AttestationLedger } from '../durable-objects/attestation-ledger';
import type { TaskQuorum } from '../durable-objects/task-quorum';
import type { NonceLedger } from '../durable-objects/nonce-ledger';

/** Bindings and settings of the gateway Worker (see wrangler.toml; secrets via `wrangler secret put`). */
export interface Env {
  DB: D1Database;
  MODELS: R2Bucket;
  BACKEND_POOL: DurableObjectNamespace<BackendPool>;
  /** One authorization task each (quorum of operator signatures). */
  TASK_QUORUM: DurableObjectNamespace<TaskQuorum>;
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
  /** Largest model upload in bytes. */
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
  /** x402: JSON-RPC URL for balance and nonce checks at the edge (optional). */
  X402_RPC_URL?: string;
  /** x402: how long a client's authorization should stay valid (seconds). */
  X402_MAX_TIMEOUT_SECONDS?: string;
  /** x402: "eip3009" (default) or "permit2" (tokens without EIP-3009; needs Permit2 and the x402 proxy on chain). */
  X402_ASSET_TRANSFER_METHOD?: string;
  /** x402: how long a sync settlement may take before its outcome counts as open (ms, default 30000). */
  X402_SETTLE_TIMEOUT_MS?: string;
}
