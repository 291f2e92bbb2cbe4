/**
 * Name resolution (part of the `resolveAndOrder` stage): rewrites parsed terms so variables
 * become frame slots, package rules and imports become global refs, and calls name their target.
 */
import type { Body, CallTarget, Expr, ExprBody, Import, Term, With } from './ast';
import type { BuiltinDef } from './builtins/types';
import { problem } from './errors';
import type { CompileProblem, Location } from './errors';
import { findNode } from './ir';
import type { RuleNode } from './ir';
import { Scope, collectScopeSlots } from './scope';
import { slotsOfExprBody, slotsOfTerm } from './slots';

/** What resolution looks names up in, and where it reports problems. */
export type ResolveEnv = {
  root: RuleNode;
  builtins: ReadonlyMap<string, BuiltinDef>;
  /** Package path (dotted, with `data`) → names of its rules. */
  pkgRules: Map<string, Set<string>>;
  problems: CompileProblem[];
};

/** Name resolution for one rule or query: every resolver owns the frame its scopes allocate from. */
export class Resolver {
  readonly frame = { n: 0 };
  private readonly pkgNames: Set<string>;
  constructor(
    private readonly ctx: ResolveEnv,
    private readonly pkg: string[],
    private readonly imports: Map<string, Import>,
  ) {
    this.pkgNames = ctx.pkgRules.get(pkg.join('.')) ?? new Set();
  }

  private err(code: string, message: string, l: Location): void {
    this.ctx.problems.push(problem(code, message, l));
  }

  private isGlobal(name: string): boolean {
    return name === 'data' || name === 'input' || this.pkgNames.has(name) || this.imports.has(name);
  }

  /**
   * Resolves a body. Unification vars are body-wide and declared first; `:=` and `some` declare
   * theirs where they appear, so closures before the declaration keep their own variables.
   */
  resolveBody(body: Body, scope: Scope, extra: Term[]): Body {
    const declared = new Set<string>();
    for (const e of body) {
      const d: string[] = [];
      declaredNames(e.body, d);
      for (const n of d) declared.add(n);
    }
    const names = new Set<string>();
    for (const e of body) exprNames(e, names);
    for (const t of extra) termNames(t, names);
    for (const name of names) {
      if (name === '_' || declared.has(name) || scope.lookup(name) !== undefined || this.isGlobal(name)) continue;
      scope.declare(name);
    }
    const seen = new Set<string>();
    return body.map((e) => {
      const d: string[] = [];
      declaredNames(e.body, d);
      for (const name of d) {
        if (name === '_') continue;
        if (seen.has(name) && e.body.kind === 'assign') this.err('rego_compile_error', `var ${name} assigned above`, e.loc);
        seen.add(name);
        scope.declare(name);
      }
      return this.resolveExpr(e, scope);
    });
  }

  private resolveExpr(e: Expr, scope: Scope): Expr {
    const withs = e.with.map((w) => this.resolveWith(w, scope));
    let body: ExprBody;
    const b = e.body;
    switch (b.kind) {
      case 'term': {
        const t = this.resolveTerm(b.term, scope, true);
        // A call with one extra argument binds its result to that argument: `count(x, n)`.
        if (t.type === 'call' && t.target && !this.isVariadic(t.target) && t.args.length === this.arity(t.target) + 1) {
          const out = t.args[t.args.length - 1]!;
          body = { kind: 'unify', left: { ...t, args: t.args.slice(0, -1) }, right: out };
        } else body = { kind: 'term', term: t };
        break;
      }
      case 'unify':
      case 'assign':
        body = { kind: b.kind, left: this.resolveTerm(b.left, scope), right: this.resolveTerm(b.right, scope) };
        if (b.kind === 'assign' && !isPattern(b.left)) this.err('rego_parse_error', `cannot assign to ${termKindName(b.left)}`, e.loc);
        break;
      case 'some':
        body = { kind: 'some', vars: b.vars.map((v) => this.resolveTerm(v, scope)) };
        break;
      case 'somein':
        body = {
          kind: 'somein',
          key: b.key && this.resolveTerm(b.key, scope),
          value: this.resolveTerm(b.value, scope),
          coll: this.resolveTerm(b.coll, scope),
        };
        break;
      case 'every': {
        const coll = this.resolveTerm(b.coll, scope);
        const child = new Scope(scope, this.frame);
        const names: string[] = [];
        if (b.key) patternNames(b.key, names);
        patternNames(b.value, names);
        for (const n of names) if (n !== '_') child.declare(n);
        const key = b.key && this.resolveTerm(b.key, child);
        const value = this.resolveTerm(b.value, child);
        const body2 = this.resolveBody(b.body, child, []);
        const ev: ExprBody = { kind: 'every', key, value, coll, body: body2 };
        ev.free = this.freeSlots(ev, child);
        body = ev;
        break;
      }
      case 'body': {
        const child = new Scope(scope, this.frame);
        const nb: ExprBody = { kind: 'body', body: this.resolveBody(b.body, child, []) };
        nb.free = this.freeSlots(nb, child);
        body = nb;
        break;
      }
    }
    return { negated: e.negated, with: withs, loc: e.loc, body };
  }

  private resolveWith(w: With, scope: Scope): With {
    // A value naming a function or builtin replaces the mocked function by that function.
    const vname =
      (w.value.type === 'var' || w.value.type === 'ref') && (w.value.type !== 'var' || !scope.lookup(w.value.name))
        ? termPathNames(w.value)
        : undefined;
    const replacement =
      vname && (vname[0] === 'data' || !this.isGlobal(vname[0]!) || this.dataPathIsFunc(vname)) ? this.resolveCallName(vname, false) : undefined;
    const value = replacement ? ({ type: 'scalar', value: null, loc: w.value.loc } as Term) : this.resolveTerm(w.value, scope);
    const out: With = { target: w.target, value, loc: w.loc };
    if (replacement) out.replacement = replacement;
    const name = termPathNames(w.target);
    if (!name) {
      this.err('rego_compile_error', 'with keyword target must reference existing input, data, or a function', w.loc);
      return out;
    }
    const head = name[0]!;
    if (head === 'input' && !scope.lookup('input')) {
      out.mock = { kind: 'input', path: w.target.type === 'ref' ? w.target.path.map((p) => this.resolveTerm(p, scope)) : [] };
    } else {
      const target = this.resolveCallName(name, false);
      if (target?.kind === 'builtin') out.mock = { kind: 'function', key: target.name };
      else if (target?.kind === 'func') out.mock = { kind: 'function', key: `data.${target.path.join('.')}` };
      else {
        const dataPath = this.dataPath(name);
        if (!dataPath) {
          this.err('rego_compile_error', 'with keyword target must reference existing input, data, or a function', w.loc);
          return out;
        }
        out.mock = { kind: 'data', path: dataPath };
      }
    }
    return out;
  }

  private dataPathIsFunc(name: string[]): boolean {
    const path = this.dataPath(name);
    return path !== undefined && findNode(this.ctx.root, path)?.kind === 'func';
  }

  /** Absolute data path (without `data`) for a name path rooted at data, a package rule or an import. */
  private dataPath(name: string[]): string[] | undefined {
    const head = name[0]!;
    if (head === 'data') return name.slice(1);
    const imp = this.imports.get(head);
    if (imp) {
      const base = termPathNames(imp.path);
      if (base?.[0] === 'data') return [...base.slice(1), ...name.slice(1)];
      return undefined;
    }
    if (this.pkgNames.has(head)) return [...this.pkg, ...name];
    return undefined;
  }

  /** Resolves a call operator to a user function or builtin. */
  private resolveCallName(op: string[], report = true, l?: Location): CallTarget | undefined {
    const path = this.dataPath(op);
    if (path) {
      const node = findNode(this.ctx.root, path);
      if (node?.kind === 'func') return { kind: 'func', path };
      if (op[0] === 'data' || !this.ctx.builtins.has(op.join('.'))) {
        if (report && l) this.err('rego_type_error', `undefined function ${op[0] === 'data' ? op.join('.') : `data.${path.join('.')}`}`, l);
        if (report || !this.ctx.builtins.has(op.join('.'))) return undefined;
      }
    }
    const name = op.join('.');
    if (this.ctx.builtins.has(name)) return { kind: 'builtin', name };
    if (report && l) this.err('rego_type_error', `undefined function ${name}`, l);
    return undefined;
  }

  private isVariadic(t: CallTarget): boolean {
    return t.kind === 'builtin' && this.ctx.builtins.get(t.name)!.variadic === true;
  }

  private arity(t: CallTarget): number {
    if (t.kind === 'builtin') return this.ctx.builtins.get(t.name)!.arity;
    return findNode(this.ctx.root, t.path)?.arity ?? 0;
  }

  /**
   * Rewrites a term: vars to slots or global refs, calls to targets, closures to child scopes.
   * `outputArg`: the term is a whole expression, where a call may take one extra (output) argument.
   */
  resolveTerm(t: Term, scope: Scope, outputArg = false): Term {
    switch (t.type) {
      case 'scalar':
        return t;
      case 'var': {
        if (t.slot !== undefined) return t;
        if (t.name === '_') return { type: 'var', name: '_', loc: t.loc, slot: scope.fresh() };
        const slot = scope.lookup(t.name);
        if (slot !== undefined) return { type: 'var', name: t.name, loc: t.loc, slot };
        if (this.isGlobal(t.name)) return this.globalRef(t.name, [], t.loc, scope);
        return { type: 'var', name: t.name, loc: t.loc, slot: scope.declare(t.name) };
      }
      case 'ref': {
        const path = t.path.map((p) => this.resolveTerm(p, scope));
        if (t.head.type === 'var' && t.head.name !== '_' && scope.lookup(t.head.name) === undefined && this.isGlobal(t.head.name)) {
          return this.globalRef(t.head.name, path, t.loc, scope);
        }
        return { type: 'ref', head: this.resolveTerm(t.head, scope), path, loc: t.loc };
      }
      case 'array':
        return { type: 'array', items: t.items.map((i) => this.resolveTerm(i, scope)), loc: t.loc };
      case 'set':
        return { type: 'set', items: t.items.map((i) => this.resolveTerm(i, scope)), loc: t.loc };
      case 'object':
        return { type: 'object', entries: t.entries.map(([k, v]) => [this.resolveTerm(k, scope), this.resolveTerm(v, scope)]), loc: t.loc };
      case 'call': {
        const target = this.resolveCallName(t.op, true, t.loc);
        const args = t.args.map((a) => this.resolveTerm(a, scope));
        if (target && !this.isVariadic(target)) {
          const want = this.arity(target);
          if (args.length !== want && !(outputArg && args.length === want + 1)) {
            this.err('rego_type_error', `${t.op.join('.')}: arity mismatch: have ${args.length} arguments, want ${want}`, t.loc);
          }
        }
        return target ? { type: 'call', op: t.op, args, loc: t.loc, target } : { type: 'call', op: t.op, args, loc: t.loc };
      }
      case 'arraycompr':
      case 'setcompr': {
        const child = new Scope(scope, this.frame);
        const body = this.resolveBody(t.body, child, [t.head]);
        const out: Term & { type: 'arraycompr' | 'setcompr' } = { type: t.type, head: this.resolveTerm(t.head, child), body, loc: t.loc };
        out.free = this.freeSlots(out, child);
        return out;
      }
      case 'objectcompr': {
        const child = new Scope(scope, this.frame);
        const body = this.resolveBody(t.body, child, [t.key, t.value]);
        const out: Term = { type: 'objectcompr', key: this.resolveTerm(t.key, child), value: this.resolveTerm(t.value, child), body, loc: t.loc };
        out.free = this.freeSlots(out, child);
        return out;
      }
      case 'template': {
        const child = new Scope(scope, this.frame);
        const parts = t.parts.map((p) => (typeof p === 'string' ? p : this.resolveBody([p], child, [])[0]!));
        const out: Term = { type: 'template', parts, loc: t.loc };
        out.free = this.freeSlots(out, child);
        return out;
      }
    }
  }

  /** A ref rooted at data/input for a global name (package rule, import alias, data, input). */
  private globalRef(name: string, path: Term[], l: Location, scope: Scope): Term {
    if (name === 'input' || name === 'data') return { type: 'ref', head: { type: 'var', name, loc: l }, path, loc: l, global: { root: name } };
    const imp = this.imports.get(name);
    if (imp) {
      const base = imp.path;
      const head = base.type === 'ref' ? base.head : base;
      const basePath = base.type === 'ref' ? base.path.map((p) => this.resolveTerm(p, scope)) : [];
      const root = head.type === 'var' && head.name === 'input' ? 'input' : 'data';
      return { type: 'ref', head: { type: 'var', name: root, loc: l }, path: [...basePath, ...path], loc: l, global: { root } };
    }
    const prefix: Term[] = [...this.pkg, name].map((s) => ({ type: 'scalar', value: s, loc: l }));
    return { type: 'ref', head: { type: 'var', name: 'data', loc: l }, path: [...prefix, ...path], loc: l, global: { root: 'data' } };
  }

  /** Slots a closure uses that belong to enclosing scopes. */
  private freeSlots(closure: Term | ExprBody, child: Scope): number[] {
    const used = new Set<number>();
    if ('type' in closure) slotsOfTerm(closure, used, true);
    else slotsOfExprBody(closure, used);
    const inner = new Set<number>();
    collectScopeSlots(child, inner);
    return [...used].filter((s) => !inner.has(s));
  }
}

/** Names declared by `:=`, `some` and `some ... in` (they shadow outer variables). */
function declaredNames(b: ExprBody, out: string[]): void {
  if (b.kind === 'assign') patternNames(b.left, out);
  else if (b.kind === 'some') for (const v of b.vars) patternNames(v, out);
  else if (b.kind === 'somein') {
    if (b.key) patternNames(b.key, out);
    patternNames(b.value, out);
  }
}

function patternNames(t: Term, out: string[]): void {
  if (t.type === 'var') out.push(t.name);
  else if (t.type === 'array') for (const i of t.items) patternNames(i, out);
  else if (t.type === 'object') for (const [, v] of t.entries) patternNames(v, out);
}

/** Var names used at this level (not inside closures). */
function exprNames(e: Expr, out: Set<string>): void {
  for (const w of e.with) termNames(w.value, out);
  const b = e.body;
  switch (b.kind) {
    case 'term':
      termNames(b.term, out);
      break;
    case 'unify':
    case 'assign':
      termNames(b.left, out);
      termNames(b.right, out);
      break;
    case 'some':
      break;
    case 'somein':
      if (b.key) termNames(b.key, out);
      termNames(b.value, out);
      termNames(b.coll, out);
      break;
    case 'every':
      termNames(b.coll, out);
      break;
  }
}

function termNames(t: Term, out: Set<string>): void {
  switch (t.type) {
    case 'var':
      out.add(t.name);
      break;
    case 'ref':
      termNames(t.head, out);
      for (const p of t.path) termNames(p, out);
      break;
    case 'array':
    case 'set':
      for (const i of t.items) termNames(i, out);
      break;
    case 'object':
      for (const [k, v] of t.entries) {
        termNames(k, out);
        termNames(v, out);
      }
      break;
    case 'call':
      for (const a of t.args) termNames(a, out);
      break;
  }
}

function isPattern(t: Term): boolean {
  if (t.type === 'var') return true;
  if (t.type === 'array') return t.items.every(isPattern);
  if (t.type === 'object') return t.entries.every(([, v]) => isPattern(v));
  return false;
}

function termKindName(t: Term): string {
  return t.type === 'scalar' ? typeof t.value : t.type;
}

/** Dotted name path of a var or a ref made only of names (`time.now_ns`, `data.x.f`, `input.a`). */
function termPathNames(t: Term): string[] | undefined {
  if (t.type === 'var') return [t.name];
  if (t.type !== 'ref' || t.head.type !== 'var') return undefined;
  const out = [t.head.name];
  for (const p of t.path) {
    if (p.type !== 'scalar' || typeof p.value !== 'string') return out[0] === 'input' ? out : undefined;
    out.push(p.value);
  }
  return out;
}
