import type { Location } from './errors';

/** Rego term (expression tree). Vars get a frame `slot` from the compiler. */
export type Term =
  | { type: 'scalar'; value: null | boolean | number | bigint | string; loc: Location }
  | { type: 'var'; name: string; loc: Location; slot?: number }
  | { type: 'ref'; head: Term; path: Term[]; loc: Location; global?: GlobalRef }
  | { type: 'array'; items: Term[]; loc: Location }
  | { type: 'object'; entries: [Term, Term][]; loc: Location }
  | { type: 'set'; items: Term[]; loc: Location }
  | { type: 'arraycompr'; head: Term; body: Body; loc: Location; free?: number[] }
  | { type: 'setcompr'; head: Term; body: Body; loc: Location; free?: number[] }
  | { type: 'objectcompr'; key: Term; value: Term; body: Body; loc: Location; free?: number[] }
  | { type: 'call'; op: string[]; args: Term[]; loc: Location; target?: CallTarget }
  | { type: 'template'; parts: (string | Expr)[]; loc: Location; free?: number[] };

/** A ref rooted at `data` (path prefix of ground strings is resolved by the compiler) or `input`. */
export type GlobalRef = { root: 'data' | 'input' };

/** Resolution of a call operator: a builtin, or a user function at a data path. */
export type CallTarget = { kind: 'builtin'; name: string } | { kind: 'func'; path: string[] };

/** `with target as value`; the target is `input...`, `data...` or a function/builtin name. */
export type With = { target: Term; value: Term; loc: Location; mock?: WithTarget; replacement?: CallTarget };

/** What a `with` replaces, as resolved by the compiler. */
export type WithTarget = { kind: 'input'; path: Term[] } | { kind: 'data'; path: string[] } | { kind: 'function'; key: string };

/** One literal of a body. */
export type Expr = {
  negated: boolean;
  with: With[];
  loc: Location;
  body: ExprBody;
  /** Set by the compiler: the expression has at most one solution, binding exactly `outs`. */
  det?: boolean;
  outs?: number[];
};

/** What an expression does: a term, `=`, `:=`, `some`, `some ... in`, `every`, or a nested body. */
export type ExprBody =
  | { kind: 'term'; term: Term }
  | { kind: 'unify'; left: Term; right: Term }
  | { kind: 'assign'; left: Term; right: Term }
  | { kind: 'some'; vars: Term[] }
  | { kind: 'somein'; key: Term | undefined; value: Term; coll: Term }
  | { kind: 'every'; key: Term | undefined; value: Term; coll: Term; body: Body; free?: number[] }
  /** `not { ... }`: a nested body (a closure), only valid negated. */
  | { kind: 'body'; body: Body; free?: number[] };

/** A rule or query body: its literals, in source order until the compiler reorders them. */
export type Body = Expr[];

/** Rule head kinds (OPA: single-value, multi-value, function). */
export type RuleKind = 'value' | 'set' | 'func';

/** A parsed rule. `ref` is the head reference (first element a string name) relative to the package. */
export type Rule = {
  kind: RuleKind;
  ref: Term[];
  args: Term[] | undefined;
  /** Element for `contains`; value for value rules and functions (defaults to `true`). */
  value: Term;
  assign: boolean;
  body: Body;
  elseRule: Rule | undefined;
  isDefault: boolean;
  loc: Location;
};

/** `import data.x.y as z` / `import input.x`; `future.keywords.*` and `rego.v1` are dropped by the parser. */
export type Import = { path: Term; alias: string; loc: Location };

/** A parsed module: its package path (without `data`), imports and rules. */
export type Module = {
  file: string;
  pkg: string[];
  imports: Import[];
  rules: Rule[];
};

/** Builds a location. */
export function loc(file: string, row: number, col: number): Location {
  return { file, row, col };
}
