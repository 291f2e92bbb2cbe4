import type { Value } from '../value';

/**
 * Capabilities that must come from the caller (clock, randomness, network), never from globals,
 * so every operator evaluating the same task gets the same answer.
 */
export type EvalContext = {
  /** Wall-clock time for `time.now_ns` (nanoseconds since the Unix epoch). Without it `time.now_ns` errors. */
  nowNs?: bigint;
  /** Seed for `rand.intn` and `uuid.rfc4122`; without it they error. */
  seed?: string;
  /** Synchronous `http.send` implementation (the request object in, the response object out). */
  httpSend?: (request: Value) => Value;
  /** DNS lookups for `net.lookup_ip_addr`. */
  lookupIpAddr?: (name: string) => string[];
  /** Receives `print(...)` output; without it printing is a no-op. */
  print?: (message: string) => void;
};

/** What a builtin implementation can use besides its operands. */
export type BuiltinContext = {
  context: EvalContext;
  /**
   * Adds `steps` to the evaluation's step budget (throws RegoLimitError past it): builtins whose
   * work grows with their operands (regex matching) charge it, so one call cannot run free.
   */
  charge: (steps: number) => void;
};

/** A builtin function. It returns `undefined` for "no result" and throws `BuiltinError` on errors. */
export type BuiltinFn = (args: Value[], ctx: BuiltinContext) => Value | undefined;

/**
 * Registry entry; `relation` builtins (like `walk`) return every output as an array. `variadic`
 * builtins (print) take any number of operands, and an undefined operand reaches them as "<undefined>".
 */
export type BuiltinDef = { name: string; arity: number; fn: BuiltinFn; relation?: boolean; variadic?: boolean };

/** Builds a registry entry. */
export function def(name: string, arity: number, fn: BuiltinFn, relation = false): BuiltinDef {
  return relation ? { name, arity, fn, relation } : { name, arity, fn };
}
