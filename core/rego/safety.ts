/**
 * Safety ordering (part of the `resolveAndOrder` stage): reorders each resolved body so every
 * expression's inputs are bound before it runs, and reports OPA's unsafe-variable errors.
 */
import type { Body, Expr, ExprBody, Term } from './ast';
import type { BuiltinDef } from './builtins/types';
import { detExpr } from './determinism';
import { problem } from './errors';
import type { CompileProblem, Location } from './errors';
import { exprSlots, slotsOfTerm } from './slots';

/** Orders the bodies of one rule or query (and the closures inside them). */
export class SafetyOrderer {
  constructor(
    private readonly builtins: ReadonlyMap<string, BuiltinDef>,
    private readonly problems: CompileProblem[],
  ) {}

  private err(code: string, message: string, l: Location): void {
    this.problems.push(problem(code, message, l));
  }

  /** Reorders a body so every expression's inputs are bound before it runs (OPA's safety reordering). */
  orderBody(body: Body, safe: Set<number>, headTerms: Term[]): Body {
    const counts = new Map<number, number>();
    const bump = (set: Set<number>) => {
      for (const s of set) counts.set(s, (counts.get(s) ?? 0) + 1);
    };
    for (const e of body) bump(exprSlots(e));
    for (const t of headTerms) {
      const s = new Set<number>();
      slotsOfTerm(t, s, true);
      bump(s);
    }
    const remaining = [...body];
    const out: Body = [];
    const S = new Set(safe);
    while (remaining.length) {
      let picked = -1;
      let outs: Set<number> | undefined;
      for (let i = 0; i < remaining.length; i++) {
        const r = this.ready(remaining[i]!, S, counts, safe);
        if (r) {
          picked = i;
          outs = r;
          break;
        }
      }
      if (picked < 0) {
        this.reportUnsafe(remaining, S, counts, safe);
        return out.concat(remaining);
      }
      const e = remaining.splice(picked, 1)[0]!;
      const after = new Set([...S, ...outs!]);
      const ordered = this.orderClosures(e, after);
      if (detExpr(ordered, S, this.builtins)) {
        ordered.det = true;
        ordered.outs = [...outs!];
      }
      out.push(ordered);
      for (const s of outs!) S.add(s);
    }
    return out;
  }

  /** Slots bound after running an ordered body. */
  safeAfter(body: Body, safe: Set<number>): Set<number> {
    const S = new Set(safe);
    for (const e of body) {
      const r = this.ready(e, S, new Map(), safe);
      if (r) for (const s of r) S.add(s);
    }
    return S;
  }

  /** Records an unsafe-var error for a term whose vars are not all bound. */
  requireSafe(t: Term, safe: Set<number>): void {
    const W = new Set(safe);
    if (evaluable(t, W)) return;
    const missing = firstUnsafe(t, safe);
    if (missing) this.err('rego_unsafe_var_error', `var ${missing.name} is unsafe`, missing.loc);
  }

  private reportUnsafe(remaining: Body, S: Set<number>, counts: Map<number, number>, safe: Set<number>): void {
    const seen = new Set<string>();
    for (const e of remaining) {
      const vars: Term[] = [];
      collectVarTerms(e, vars);
      for (const v of vars) {
        if (v.type !== 'var' || v.slot === undefined || S.has(v.slot) || v.name.startsWith('$')) continue;
        if (e.negated && (counts.get(v.slot) ?? 0) <= 1 && !safe.has(v.slot)) continue;
        const name = v.name === '_' ? '_' : v.name;
        if (seen.has(name)) continue;
        seen.add(name);
        this.err('rego_unsafe_var_error', `var ${name} is unsafe`, v.loc);
        return;
      }
    }
    this.err('rego_unsafe_var_error', 'expression is unsafe', remaining[0]!.loc);
  }

  /** Orders the bodies of closures inside an expression, given the slots bound around it. */
  private orderClosures(e: Expr, S: Set<number>): Expr {
    const b = e.body;
    const mapT = (t: Term) => this.orderTerm(t, S);
    let body: ExprBody;
    switch (b.kind) {
      case 'term':
        body = { kind: 'term', term: mapT(b.term) };
        break;
      case 'unify':
      case 'assign':
        body = { kind: b.kind, left: mapT(b.left), right: mapT(b.right) };
        break;
      case 'some':
        body = b;
        break;
      case 'somein':
        body = { kind: 'somein', key: b.key && mapT(b.key), value: mapT(b.value), coll: mapT(b.coll) };
        break;
      case 'every': {
        const inner = new Set(S);
        if (b.key) slotsOfTerm(b.key, inner, false);
        slotsOfTerm(b.value, inner, false);
        body = { kind: 'every', key: b.key, value: b.value, coll: mapT(b.coll), body: this.orderBody(b.body, inner, []), free: b.free! };
        break;
      }
      case 'body':
        body = { kind: 'body', body: this.orderBody(b.body, S, []), free: b.free! };
        break;
    }
    return { negated: e.negated, with: e.with.map((w) => ({ ...w, value: mapT(w.value) })), loc: e.loc, body };
  }

  private orderTerm(t: Term, S: Set<number>): Term {
    switch (t.type) {
      case 'ref':
        return { ...t, head: this.orderTerm(t.head, S), path: t.path.map((p) => this.orderTerm(p, S)) };
      case 'array':
      case 'set':
        return { ...t, items: t.items.map((i) => this.orderTerm(i, S)) };
      case 'object':
        return { ...t, entries: t.entries.map(([k, v]) => [this.orderTerm(k, S), this.orderTerm(v, S)]) };
      case 'call':
        return { ...t, args: t.args.map((a) => this.orderTerm(a, S)) };
      case 'arraycompr':
      case 'setcompr': {
        const body = this.orderBody(t.body, S, [t.head]);
        const after = this.safeAfter(body, S);
        this.requireSafe(t.head, after);
        return { ...t, body, head: this.orderTerm(t.head, after) };
      }
      case 'objectcompr': {
        const body = this.orderBody(t.body, S, [t.key, t.value]);
        const after = this.safeAfter(body, S);
        this.requireSafe(t.key, after);
        this.requireSafe(t.value, after);
        return { ...t, body, key: this.orderTerm(t.key, after), value: this.orderTerm(t.value, after) };
      }
      case 'template':
        return { ...t, parts: t.parts.map((p) => (typeof p === 'string' ? p : this.orderBody([p], S, [])[0]!)) };
      default:
        return t;
    }
  }

  /** If the expression can run with `S` bound, returns the slots it binds; otherwise undefined. */
  private ready(e: Expr, S: Set<number>, counts: Map<number, number>, initial: Set<number>): Set<number> | undefined {
    const W = new Set(S);
    for (const w of e.with) if (!evaluable(w.value, W)) return undefined;
    if (e.negated) {
      const slots = exprSlots(e);
      for (const s of slots) {
        const localOnly = (counts.get(s) ?? 0) <= 1 && !initial.has(s);
        if (!S.has(s) && !localOnly) return undefined;
      }
      // Vars local to the negation must still be bindable by it.
      const W2 = new Set(S);
      for (const s of slots) if ((counts.get(s) ?? 0) <= 1) W2.add(s);
      return this.readyBody(e.body, new Set(S)) || this.readyBody(e.body, W2) ? new Set() : undefined;
    }
    return this.readyBody(e.body, W) ? diff(W, S) : undefined;
  }

  private readyBody(b: ExprBody, W: Set<number>): boolean {
    switch (b.kind) {
      case 'term':
        return evaluable(b.term, W);
      case 'unify':
        return unifyReady(b.left, b.right, W);
      case 'assign':
        return evaluable(b.right, W) && pattern(b.left, W);
      case 'some':
        return true;
      case 'somein':
        return evaluable(b.coll, W) && (!b.key || pattern(b.key, W)) && pattern(b.value, W);
      case 'every':
        return evaluable(b.coll, W) && b.free!.every((s) => W.has(s));
      case 'body':
        return b.free!.every((s) => W.has(s));
    }
  }
}

function diff(a: Set<number>, b: Set<number>): Set<number> {
  const out = new Set<number>();
  for (const x of a) if (!b.has(x)) out.add(x);
  return out;
}

/** Whether `t` can be evaluated to values with `W` bound; adds the ref-path vars it binds to `W`. */
function evaluable(t: Term, W: Set<number>): boolean {
  switch (t.type) {
    case 'scalar':
      return true;
    case 'var':
      return t.slot !== undefined && W.has(t.slot);
    case 'ref': {
      if (!t.global && !evaluable(t.head, W)) return false;
      for (const p of t.path) {
        if (p.type === 'var') {
          if (p.slot !== undefined) W.add(p.slot);
        } else if (p.type === 'array' || p.type === 'object') {
          const W2 = new Set(W);
          if (evaluable(p, W2)) continue;
          if (!pattern(p, W)) return false;
        } else if (!evaluable(p, W)) return false;
      }
      return true;
    }
    case 'call': {
      // Ref arguments may bind path vars used by other arguments (`x == xs[x]`).
      const W2 = new Set(W);
      for (const a of t.args) evaluable(a, W2);
      if (!t.args.every((a) => evaluable(a, W2))) return false;
      for (const s of W2) W.add(s);
      return true;
    }
    case 'array':
    case 'set':
      return t.items.every((i) => evaluable(i, W));
    case 'object':
      return t.entries.every(([k, v]) => evaluable(k, W) && evaluable(v, W));
    case 'arraycompr':
    case 'setcompr':
    case 'objectcompr':
    case 'template':
      return (t.free ?? []).every((s) => W.has(s));
  }
}

/** Whether `t` can be unified against a known value; adds the vars it binds to `W`. */
function pattern(t: Term, W: Set<number>): boolean {
  switch (t.type) {
    case 'var':
      if (t.slot !== undefined) W.add(t.slot);
      return true;
    case 'array':
      return t.items.every((i) => pattern(i, W));
    case 'object':
      return t.entries.every(([k, v]) => evaluable(k, W) && pattern(v, W));
    default:
      return evaluable(t, W);
  }
}

function unifyReady(a: Term, b: Term, W: Set<number>): boolean {
  const W1 = new Set(W);
  if (evaluable(a, W1) && pattern(b, W1)) return assign(W, W1);
  const W2 = new Set(W);
  if (evaluable(b, W2) && pattern(a, W2)) return assign(W, W2);
  if (a.type === 'array' && b.type === 'array' && a.items.length === b.items.length) {
    const W3 = new Set(W);
    // Elements may depend on each other: retry until no progress.
    let pending = a.items.map((x, i) => [x, b.items[i]!] as const);
    while (pending.length) {
      const next = pending.filter(([x, y]) => !unifyReady(x, y, W3));
      if (next.length === pending.length) return false;
      pending = next;
    }
    return assign(W, W3);
  }
  if (a.type === 'object' && b.type === 'object' && a.entries.length === b.entries.length) {
    const W3 = new Set(W);
    for (const [k, v] of a.entries) {
      const other = b.entries.find(([k2]) => k2.type === 'scalar' && k.type === 'scalar' && k2.value === k.value);
      if (!other || !unifyReady(v, other[1], W3)) return false;
    }
    return assign(W, W3);
  }
  return false;
}

function assign(W: Set<number>, from: Set<number>): boolean {
  for (const s of from) W.add(s);
  return true;
}

function firstUnsafe(t: Term, safe: Set<number>): { name: string; loc: Location } | undefined {
  const vars: Term[] = [];
  collectTermVars(t, vars);
  for (const v of vars) if (v.type === 'var' && v.slot !== undefined && !safe.has(v.slot)) return { name: v.name, loc: v.loc };
  return undefined;
}

function collectVarTerms(e: Expr, out: Term[]): void {
  const b = e.body;
  const terms: Term[] =
    b.kind === 'term'
      ? [b.term]
      : b.kind === 'unify' || b.kind === 'assign'
        ? [b.left, b.right]
        : b.kind === 'somein'
          ? [b.value, b.coll]
          : b.kind === 'every'
            ? [b.coll]
            : [];
  for (const t of terms) collectTermVars(t, out);
}

function collectTermVars(t: Term, out: Term[]): void {
  switch (t.type) {
    case 'var':
      out.push(t);
      break;
    case 'ref':
      collectTermVars(t.head, out);
      for (const p of t.path) collectTermVars(p, out);
      break;
    case 'array':
    case 'set':
      for (const i of t.items) collectTermVars(i, out);
      break;
    case 'object':
      for (const [k, v] of t.entries) {
        collectTermVars(k, out);
        collectTermVars(v, out);
      }
      break;
    case 'call':
      for (const a of t.args) collectTermVars(a, out);
      break;
  }
}
