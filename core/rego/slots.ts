/**
 * Which frame slots terms and expressions use: closure free variables, safety ordering and
 * its occurrence counts all need the same walk over resolved terms.
 */
import type { Expr, ExprBody, Term } from './ast';

/** Every slot used in a term; `deep` includes closure bodies. */
export function slotsOfTerm(t: Term, out: Set<number>, deep: boolean): void {
  switch (t.type) {
    case 'var':
      if (t.slot !== undefined) out.add(t.slot);
      break;
    case 'ref':
      slotsOfTerm(t.head, out, deep);
      for (const p of t.path) slotsOfTerm(p, out, deep);
      break;
    case 'array':
    case 'set':
      for (const i of t.items) slotsOfTerm(i, out, deep);
      break;
    case 'object':
      for (const [k, v] of t.entries) {
        slotsOfTerm(k, out, deep);
        slotsOfTerm(v, out, deep);
      }
      break;
    case 'call':
      for (const a of t.args) slotsOfTerm(a, out, deep);
      break;
    case 'arraycompr':
    case 'setcompr':
      if (deep) {
        slotsOfTerm(t.head, out, deep);
        for (const e of t.body) slotsOfExpr(e, out);
      } else for (const s of t.free ?? []) out.add(s);
      break;
    case 'objectcompr':
      if (deep) {
        slotsOfTerm(t.key, out, deep);
        slotsOfTerm(t.value, out, deep);
        for (const e of t.body) slotsOfExpr(e, out);
      } else for (const s of t.free ?? []) out.add(s);
      break;
    case 'template':
      if (deep) {
        for (const p of t.parts) if (typeof p !== 'string') slotsOfExpr(p, out);
      } else for (const s of t.free ?? []) out.add(s);
      break;
  }
}

function slotsOfExpr(e: Expr, out: Set<number>): void {
  for (const w of e.with) slotsOfTerm(w.value, out, true);
  slotsOfExprBody(e.body, out);
}

/** Every slot used in an expression body, closure bodies included. */
export function slotsOfExprBody(b: ExprBody, out: Set<number>): void {
  switch (b.kind) {
    case 'term':
      slotsOfTerm(b.term, out, true);
      break;
    case 'unify':
    case 'assign':
      slotsOfTerm(b.left, out, true);
      slotsOfTerm(b.right, out, true);
      break;
    case 'some':
      for (const v of b.vars) slotsOfTerm(v, out, true);
      break;
    case 'somein':
      if (b.key) slotsOfTerm(b.key, out, true);
      slotsOfTerm(b.value, out, true);
      slotsOfTerm(b.coll, out, true);
      break;
    case 'every':
      if (b.key) slotsOfTerm(b.key, out, true);
      slotsOfTerm(b.value, out, true);
      slotsOfTerm(b.coll, out, true);
      for (const e of b.body) slotsOfExpr(e, out);
      break;
    case 'body':
      for (const e of b.body) slotsOfExpr(e, out);
      break;
  }
}

/** Slots an expression depends on, seen from its own body (closures contribute only their free slots). */
export function exprSlots(e: Expr): Set<number> {
  const out = new Set<number>();
  for (const w of e.with) slotsOfTerm(w.value, out, false);
  const b = e.body;
  switch (b.kind) {
    case 'term':
      slotsOfTerm(b.term, out, false);
      break;
    case 'unify':
    case 'assign':
      slotsOfTerm(b.left, out, false);
      slotsOfTerm(b.right, out, false);
      break;
    case 'some':
      break;
    case 'somein':
      if (b.key) slotsOfTerm(b.key, out, false);
      slotsOfTerm(b.value, out, false);
      slotsOfTerm(b.coll, out, false);
      break;
    case 'every':
      slotsOfTerm(b.coll, out, false);
      for (const s of b.free ?? []) out.add(s);
      break;
    case 'body':
      for (const s of b.free ?? []) out.add(s);
      break;
  }
  return out;
}
