import type { BackendPool } from '../durable-objects/backend-pool';

/** Bindings and settings of the gateway Worker (see wrangler.toml; secrets via `wrangler secret put`). */
export interface Env {
  DB: D1Database;
  MODELS: R2Bucket;
  BACKEND_POOL: DurableObjectNamespace<BackendPool>;
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
}
