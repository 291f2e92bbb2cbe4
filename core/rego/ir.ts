/**
 * The compiled form that evaluation runs on: the rule tree with resolved, safety-ordered rule
 * bodies, and compiled queries. The compiler builds it; the evaluator only reads it.
 */
import type { Body, RuleKind, Term } from './ast';
import type { BuiltinDef } from './builtins/types';
import type { Location } from './errors';

/** A compiled rule (one element of an else chain). */
export type CRule = {
  kind: RuleKind;
  /** Head selectors after the node path (object keys or set element path); resolved terms. */
  dyn: Term[];
  value: Term;
  body: Body;
  nslots: number;
  argSlots: number[];
  elseRule: CRule | undefined;
  /** True when every solution yields the same value, so evaluation can stop at the first one. */
  constValue: boolean;
  loc: Location;
};

/** A node of the data tree at a ground path: rules defined exactly there, and child nodes. */
export type RuleNode = {
  path: string[];
  children: Map<string, RuleNode>;
  rules: CRule[];
  defaultRule: CRule | undefined;
  /** `value`: complete; `set`/`object`: partial; `func`: function; `none`: only children. */
  kind: 'none' | 'value' | 'set' | 'object' | 'func';
  arity: number;
  /** Every rule (and else branch) yields the same scalar, so the first defined value decides (no conflict possible). */
  uniform: boolean;
};

/** A compiled query: ordered body, frame size and the user variables it binds. */
export type CompiledQuery = { body: Body; nslots: number; outputs: { name: string; slot: number }[] };

/** Everything evaluation needs; immutable once built, reusable across evaluations. */
export type CompiledPolicy = {
  root: RuleNode;
  builtins: ReadonlyMap<string, BuiltinDef>;
  /** Memo of compiled queries by text (a compiled policy evaluates the same entrypoints many times). */
  queryCache: Map<string, CompiledQuery>;
};

/** Finds the node at a path, if rules exist there or below. */
export function findNode(root: RuleNode, path: readonly string[]): RuleNode | undefined {
  let n: RuleNode | undefined = root;
  for (const seg of path) {
    n = n.children.get(seg);
    if (!n) return undefined;
  }
  return n;
}
