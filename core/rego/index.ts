/**
 * Proofgate's Rego engine (OPA's language, Rego v1), runtime-agnostic and synchronous.
 * Compile once with `compilePolicy`, then `evaluate` an entrypoint or run a `query` many times.
 * Clock, randomness and network come only from the explicit `context`, so results are reproducible.
 */
import type { Term } from './ast';
import { BUILTINS } from './builtins/index';
import type { EvalContext } from './builtins/types';
import { compileModules, compileQuery } from './compile';
import type { CompiledPolicy } from './ir';
import { RegoCompileError } from './errors';
import { Evaluator } from './eval';
import type { Limits } from './eval';
import { parseTermSource } from './parser';
import { RObject, RSet, fromJS, toJS } from './value';
import type { Value } from './value';

export type { CompiledPolicy, RuleNode } from './ir';
export type { EvalContext } from './builtins/types';
export type { Limits } from './eval';
export type { Value } from './value';
export { RegoError, RegoCompileError, RegoEvalError, RegoLimitError, BuiltinError } from './errors';
export type { Location, CompileProblem } from './errors';
export { RObject, RSet, fromJS, toJS, toJSON, compare, equal } from './value';
export { parseJSON } from './json';

/** Default evaluation budget: generous for real policies, small enough to bound a Worker request. */
export const DEFAULT_LIMITS: Limits = { maxSteps: 1_000_000, maxDepth: 200 };

/** Options for `evaluate` and `query`. */
export type EvaluateOptions = {
  /** The `input` document (JSON-like JS value, or a Rego value). Omitted = undefined input. */
  input?: unknown;
  /** The base `data` document (object). Pass a value from `toValue` to avoid re-converting it on every call. */
  data?: unknown;
  /** Clock, randomness and network capabilities (see EvalContext). */
  context?: EvalContext;
  /** Builtin errors abort evaluation (true) or make the expression undefined (false, OPA's default). */
  strictBuiltinErrors?: boolean;
  limits?: Partial<Limits>;
};

/** Compiles Rego modules (file name → source). Throws RegoCompileError with OPA-style messages. */
export function compilePolicy(modules: Record<string, string>): CompiledPolicy {
  return compileModules(modules, BUILTINS);
}

/** Converts a JS value to a Rego value once, for reuse across evaluations. */
export function toValue(x: unknown): Value {
  return fromJS(x);
}

/** Runs a query; returns one row of Rego values per solution (empty array = undefined). */
export function queryValues(policy: CompiledPolicy, query: string, opts: EvaluateOptions = {}): Map<string, Value>[] {
  const q = compileQuery(policy, query);
  const ev = new Evaluator(policy, {
    input: opts.input === undefined ? undefined : fromJS(opts.input),
    data: opts.data === undefined ? new RObject() : fromJS(opts.data),
    context: opts.context ?? {},
    strictBuiltinErrors: opts.strictBuiltinErrors ?? false,
    limits: { ...DEFAULT_LIMITS, ...opts.limits },
  });
  return ev.run(q);
}

/** Runs a query; rows map variable names to JS values (sets as `Set`, big integers as `bigint`). */
export function query(policy: CompiledPolicy, q: string, opts: EvaluateOptions = {}): Record<string, unknown>[] {
  return queryValues(policy, q, opts).map((row) => Object.fromEntries([...row].map(([k, v]) => [k, toJS(v)])));
}

/**
 * Evaluates an entrypoint (`data.pkg.allow` or `pkg/allow`) and returns its value as a Rego value,
 * or undefined when it is undefined.
 */
export function evaluateValue(policy: CompiledPolicy, entrypoint: string, opts: EvaluateOptions = {}): Value | undefined {
  const ref = entrypoint.startsWith('data') ? entrypoint : `data.${entrypoint.replace(/^\/+/, '').split('/').join('.')}`;
  const rows = queryValues(policy, `__result__ = ${ref}`, opts);
  if (rows.length === 0) return undefined;
  return rows[0]!.get('__result__');
}

/** Like `evaluateValue`, converted to JS values. */
export function evaluate(policy: CompiledPolicy, entrypoint: string, opts: EvaluateOptions = {}): unknown {
  const v = evaluateValue(policy, entrypoint, opts);
  return v === undefined ? undefined : toJS(v);
}

/** Parses a constant Rego term (`{"a": {1, 2}}`, `set()`) into a value, as OPA's `ast.MustParseTerm`. */
export function parseValue(text: string): Value {
  return constTerm(parseTermSource(text));
}

function constTerm(t: Term): Value {
  switch (t.type) {
    case 'scalar':
      return t.value;
    case 'array':
      return t.items.map(constTerm);
    case 'set':
      return RSet.of(t.items.map(constTerm));
    case 'object': {
      const o = new RObject();
      for (const [k, v] of t.entries) o.set(constTerm(k), constTerm(v));
      return o;
    }
    default:
      throw new RegoCompileError([{ code: 'rego_parse_error', message: 'term is not a constant value', location: t.loc }]);
  }
}
