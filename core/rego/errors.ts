/** Source position of a token or AST node (1-based row and column). */
export type Location = { file: string; row: number; col: number };

/** Base class of every error raised by the Rego engine; `code` is stable and machine-readable. */
export class RegoError extends Error {
  override name = 'RegoError';
  readonly code: string;
  readonly location: Location | undefined;
  constructor(code: string, message: string, location?: Location) {
    super(message);
    this.code = code;
    this.location = location;
  }
  /** OPA's full error text: `file:row: code: message` (or `code: message` without a location). */
  fullText(): string {
    return this.location ? `${this.location.file}:${this.location.row}: ${this.code}: ${this.message}` : `${this.code}: ${this.message}`;
  }
}

/** One problem found while parsing or compiling a module. */
export type CompileProblem = { code: string; message: string; location: Location | undefined };

/** Builds a compile problem (every compiler stage reports through this shape). */
export function problem(code: string, message: string, location: Location | undefined): CompileProblem {
  return { code, message, location };
}

/** Compilation failed; `errors` lists every problem in OPA's `file:row:col: code: message` form. */
export class RegoCompileError extends RegoError {
  override name = 'RegoCompileError';
  readonly errors: CompileProblem[];
  constructor(errors: CompileProblem[]) {
    const first = errors[0] ?? { code: 'rego_compile_error', message: 'compilation failed', location: undefined };
    const lines = errors.map(formatProblem);
    super(first.code, errors.length === 1 ? lines[0]! : `${errors.length} errors occurred:\n${lines.join('\n')}`, first.location);
    this.errors = errors;
  }
}

/** Formats a compile problem the way OPA prints it. */
export function formatProblem(p: CompileProblem): string {
  return p.location ? `${p.location.file}:${p.location.row}:${p.location.col}: ${p.code}: ${p.message}` : `${p.code}: ${p.message}`;
}

/** Evaluation-time error (conflicts, strict builtin errors, type errors). */
export class RegoEvalError extends RegoError {
  override name = 'RegoEvalError';
  /** Results produced before a strict builtin error stopped evaluation (OPA returns them too). */
  resultSet: unknown[] | undefined;
}

/** Raised when evaluation exceeds its step or depth budget, so no policy can hang the host. */
export class RegoLimitError extends RegoEvalError {
  override name = 'RegoLimitError';
  constructor(message: string, location?: Location) {
    super('eval_limit_exceeded', message, location);
  }
}

/** Error thrown by a builtin implementation: `eval_type_error` for bad operand types, `eval_builtin_error` otherwise. */
export class BuiltinError extends Error {
  override name = 'BuiltinError';
  readonly code: 'eval_type_error' | 'eval_builtin_error';
  constructor(code: 'eval_type_error' | 'eval_builtin_error', message: string) {
    super(message);
    this.code = code;
  }
}

/** Shorthand for a builtin's `eval_builtin_error`. */
export function builtinError(name: string, message: string): BuiltinError {
  return new BuiltinError('eval_builtin_error', `${name}: ${message}`);
}

/** Shorthand for a builtin's `eval_type_error`. */
export function typeError(name: string, message: string): BuiltinError {
  return new BuiltinError('eval_type_error', `${name}: ${message}`);
}
