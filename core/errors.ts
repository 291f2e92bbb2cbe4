/**
 * Base class of every error Proofgate reports across a boundary (HTTP, CLI, SDK).
 * `code` is stable and machine-readable; `status` is the HTTP status that fits it.
 */
export class ProofgateError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, status = 400, details?: Record<string, unknown>) {
    super(message);
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
