/**
 * Base class of every error Proofgate reports across a boundary (HTTP, Durable Object RPC, CLI,
 * SDK, the Node services). `code` is stable and machine-readable; `status` is the HTTP status that
 * fits it.
 */
export class ProofgateError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, status = 400, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.details = details;
  }
}

/** Input that cannot be parsed or does not fit the schema of the endpoint. */
export class InvalidRequestError extends ProofgateError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(code, message, 400, details);
  }
}

/** An error as plain data: what crosses a boundary that keeps no class (JSON, Durable Object RPC). */
export interface ErrorBody {
  code: string;
  message: string;
  status: number;
  details?: Record<string, unknown>;
}

/** The plain-data form of a ProofgateError. */
export function toErrorBody(err: ProofgateError): ErrorBody {
  return { code: err.code, message: err.message, status: err.status, ...(err.details ? { details: err.details } : {}) };
}

/** Rebuilds a ProofgateError (same code, status and details) from its plain-data form. */
export function fromErrorBody(body: ErrorBody): ProofgateError {
  return new ProofgateError(body.code, body.message, body.status, body.details);
}

/**
 * What a Durable Object method returns instead of throwing: Cloudflare's RPC carries an error's
 * message but none of its own properties, so a thrown ProofgateError would reach the caller as a
 * codeless 500. The caller turns it back into the error with `unwrapRpc`.
 */
export type RpcResult<T> = { ok: true; value: T } | { ok: false; error: ErrorBody };

/** Runs `fn`, turning a ProofgateError it throws into an `RpcResult` (any other error still throws). */
export async function toRpcResult<T>(fn: () => T | Promise<T>): Promise<RpcResult<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    if (err instanceof ProofgateError) return { ok: false, error: toErrorBody(err) };
    throw err;
  }
}

/** The value of an `RpcResult`, or its error rethrown as a ProofgateError with its code and status. */
export function unwrapRpc<T>(result: RpcResult<T>): T {
  if (result.ok) return result.value;
  throw fromErrorBody(result.error);
}
