import { ProofgateError } from '../../core/errors';
import type { HttpCall } from './host-calls';

/** Stable machine-readable codes of every error runPolicyData throws. */
export type PolicyDataErrorCode =
  | 'invalid_module'
  | 'forbidden_import'
  | 'memory_limit'
  | 'timeout'
  | 'module_trap'
  | 'module_error'
  | 'invalid_output'
  | 'output_too_large'
  | 'host_not_allowed';

/**
 * Base of every PolicyData runtime error; `code` is stable, `message` is not. Errors raised after
 * the module started carry the HTTP calls it had made by then, for diagnosis.
 */
export class PolicyDataError extends ProofgateError {
  declare readonly code: PolicyDataErrorCode;
  httpCalls: HttpCall[] = [];

  constructor(code: PolicyDataErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, 422);
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** The bytes are not a WebAssembly module that follows the ABI (missing or ill-typed exports...). */
export class InvalidModuleError extends PolicyDataError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid_module', message, options);
  }
}

/** The module imports something besides the `proofgate` host functions (WASI, a clock, a table...). */
export class ForbiddenImportError extends PolicyDataError {
  constructor(message: string) {
    super('forbidden_import', message);
  }
}

/** The module's memory is unbounded, too large, shared or 64-bit, or the run exhausted its limits. */
export class MemoryLimitError extends PolicyDataError {
  constructor(message: string) {
    super('memory_limit', message);
  }
}

/** The run did not finish within its wall-clock budget; its worker was terminated. */
export class PolicyDataTimeoutError extends PolicyDataError {
  constructor(timeoutMs: number) {
    super('timeout', `PolicyData module did not finish within ${timeoutMs} ms`);
  }
}

/** The module trapped (unreachable, out-of-bounds access, stack overflow, bad pointer to the host). */
export class ModuleTrapError extends PolicyDataError {
  constructor(message: string) {
    super('module_trap', message);
  }
}

/** The module ran to completion and returned `{"err": message}`. */
export class ModuleReportedError extends PolicyDataError {
  constructor(message: string) {
    super('module_error', message);
  }
}

/** The module's result is not a UTF-8 JSON envelope `{"ok": value}` / `{"err": string}` in its memory. */
export class InvalidOutputError extends PolicyDataError {
  constructor(message: string) {
    super('invalid_output', message);
  }
}

/** The module's result is longer than maxOutputBytes. */
export class OutputTooLargeError extends PolicyDataError {
  constructor(message: string) {
    super('output_too_large', message);
  }
}

/**
 * A component fetched a host outside the operator's allowed hosts: the run is stopped rather than
 * handed an error it could paper over, since operators that allow different hosts would then
 * report different data.
 */
export class HostNotAllowedError extends PolicyDataError {
  constructor(message: string) {
    super('host_not_allowed', message);
  }
}

/** Rebuilds the error class for a code reported across the worker boundary. */
export function policyDataErrorFromCode(code: string, message: string): PolicyDataError {
  switch (code) {
    case 'invalid_module':
      return new InvalidModuleError(message);
    case 'forbidden_import':
      return new ForbiddenImportError(message);
    case 'memory_limit':
      return new MemoryLimitError(message);
    case 'module_error':
      return new ModuleReportedError(message);
    case 'invalid_output':
      return new InvalidOutputError(message);
    case 'output_too_large':
      return new OutputTooLargeError(message);
    case 'host_not_allowed':
      return new HostNotAllowedError(message);
    default:
      return new ModuleTrapError(message);
  }
}

/** Stable codes of host-call failures; they reach the module as `{"err": "<code>: <message>"}`. */
export type HostCallErrorCode =
  | 'host_not_allowed'
  | 'invalid_request'
  | 'too_many_calls'
  | 'fetch_failed'
  | 'response_too_large'
  | 'unknown_secret'
  | 'secrets_unavailable';

/**
 * A host call (http_fetch, secrets_get) the host refused or could not complete. It is not thrown
 * out of runPolicyData: the module receives it as an error envelope and decides what to do, and
 * failed HTTP calls are recorded with it.
 */
export class HostCallError extends ProofgateError {
  declare readonly code: HostCallErrorCode;

  constructor(code: HostCallErrorCode, message: string) {
    super(code, message, 422);
  }
}
