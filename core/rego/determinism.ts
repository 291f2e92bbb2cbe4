/** Determinism marking, done by safety ordering: single-solution expressions keep deep bodies off the evaluator's stack. */
import type { Expr, Term } from './ast';
import type { BuiltinDef } from './builtins/types';

/**
 * Whether an expression has at most one solution given the bound slots `S` (so the evaluator can
 * run it in place instead of nesting a continuation): no enumeration through unbound ref vars,
 * `some ... in`, or relation builtins.
 */
export function detExpr(e: Expr, S: Set<number>, builtins: ReadonlyMap<string, BuiltinDef>): boolean {
  if (e.with.length) return false;
  if (e.negated) return true;
  const b = e.body;
  switch (b.kind) {
    case 'some':
    case 'every':
      return true;
    case 'term':
      return detTerm(b.term, S, builtins);
    case 'assign':
      return detTerm(b.right, S, builtins) && detPattern(b.left, S, builtins);
    case 'unify':
      return (detTerm(b.right, S, builtins) && detPattern(b.left, S, builtins)) || (detTerm(b.left, S, builtins) && detPattern(b.right, S, builtins));
    default:
      return false;
  }
}

function detTerm(t: Term, S: Set<number>, builtins: ReadonlyMap<string, BuiltinDef>): boolean {
  switch (t.type) {
    case 'scalar':
      return true;
    case 'var':
      return t.slot !== undefined && S.has(t.slot);
    case 'ref':
      return (t.global !== undefined || detTerm(t.head, S, builtins)) && t.path.every((p) => detTerm(p, S, builtins));
    case 'call':
      return !(t.target?.kind === 'builtin' && builtins.get(t.target.name)?.relation) && t.args.every((a) => detTerm(a, S, builtins));
    case 'array':
    case 'set':
      return t.items.every((i) => detTerm(i, S, builtins));
    case 'object':
      return t.entries.every(([k, v]) => detTerm(k, S, builtins) && detTerm(v, S, builtins));
    default:
      return true;
  }
}

function detPattern(t: Term, S: Set<number>, builtins: ReadonlyMap<string, BuiltinDef>): boolean {
  if (t.type === 'var') return true;
  if (t.type === 'array') return t.items.every((i) => detPattern(i, S, builtins));
  if (t.type === 'object') return t.entries.every(([k, v]) => detTerm(k, S, builtins) && detPattern(v, S, builtins));
  return detTerm(t, S, builtins);
}
