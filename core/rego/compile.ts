/**
 * Compiler: builds the rule tree from parsed modules, resolves names (locals, package rules,
 * imports, builtins), assigns frame slots to variables, reorders bodies for safety (OPA's
 * unsafe-var rules), and rejects recursion and conflicting rule kinds.
 */
import type { Body, CallTarget, Expr, ExprBody, Import, Module, Rule, RuleKind, Term, With } from './ast';
import type { BuiltinDef } from './builtins/types';
import { RegoCompileError } from './errors';
import type { CompileProblem, Location } from './errors';
import { parseModule, parseQuery } from './parser';

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

type RawRule = { rule: Rule; module: Module; dyn: Term[] };

/** Compiles modules (file name → source) into a policy. Throws RegoCompileError. */
export function compileModules(sources: Record<string, string>, builtins: ReadonlyMap<string, BuiltinDef>): CompiledPolicy {
  const problems: CompileProblem[] = [];
  const modules: Module[] = [];
  for (const [file, src] of Object.entries(sources)) {
    try {
      modules.push(parseModule(src, file));
    } catch (e) {
      if (e instanceof RegoCompileError) problems.push(...e.errors);
      else throw e;
    }
  }
  if (problems.length) throw new RegoCompileError(problems);
  const root = newNode([]);
  const raw = new Map<RuleNode, RawRule[]>();
  const pkgRules = new Map<string, Set<string>>();
  for (const m of modules) {
    // An empty package still defines an (empty) object at its path.
    nodeAt(root, m.pkg);
    const key = m.pkg.join('.');
    const names = pkgRules.get(key) ?? new Set<string>();
    pkgRules.set(key, names);
    for (const r of m.rules) {
      const first = r.ref[0]!;
      names.add(first.type === 'scalar' ? String(first.value) : '');
      const path = [...m.pkg];
      let i = 0;
      for (; i < r.ref.length; i++) {
        const seg = r.ref[i]!;
        if (seg.type === 'scalar' && typeof seg.value === 'string') path.push(seg.value);
        else break;
      }
      const dyn = r.ref.slice(i);
      if (r.kind === 'func' && dyn.length) problems.push(problem('rego_parse_error', 'function name must be a ground ref', r.loc));
      const node = nodeAt(root, path);
      const list = raw.get(node) ?? [];
      list.push({ rule: r, module: m, dyn });
      raw.set(node, list);
    }
  }
  if (problems.length) throw new RegoCompileError(problems);
  const ctx: CompileCtx = { root, builtins, pkgRules, problems };
  // Kinds and arities first: name resolution needs to know which paths are functions.
  for (const [node, rules] of raw) classify(node, rules, problems);
  for (const [node, rules] of raw) {
    for (const { rule, module, dyn } of rules) {
      const compiled = compileRule(rule, dyn, module, ctx);
      if (!compiled) continue;
      if (rule.isDefault) {
        if (node.defaultRule) problems.push(problem('rego_type_error', `multiple default rules data.${node.path.join('.')} found`, rule.loc));
        node.defaultRule = compiled;
      } else node.rules.push(compiled);
    }
  }
  for (const node of raw.keys()) node.uniform = uniformScalar(node.rules);
  if (!problems.length) checkRecursion(root, problems);
  if (problems.length) throw new RegoCompileError(problems);
  return { root, builtins, queryCache: new Map() };
}

/** Compiles a query against a policy (memoized per query text). */
export function compileQuery(policy: CompiledPolicy, query: string): CompiledQuery {
  const hit = policy.queryCache.get(query);
  if (hit) return hit;
  const body = parseQuery(query);
  const problems: CompileProblem[] = [];
  const ctx: CompileCtx = { root: policy.root, builtins: policy.builtins, pkgRules: new Map(), problems };
  const r = new Resolver(ctx, [], new Map(), 'query');
  const scope = new Scope(undefined, r.frame);
  const resolved = r.resolveBody(body, scope, []);
  const ordered = r.orderBody(resolved, new Set(), []);
  if (problems.length) throw new RegoCompileError(problems);
  const outputs = [...scope.vars].filter(([name]) => !name.startsWith('$')).map(([name, slot]) => ({ name, slot }));
  const cq: CompiledQuery = { body: ordered, nslots: r.frame.n, outputs };
  if (policy.queryCache.size < 256) policy.queryCache.set(query, cq);
  return cq;
}

type CompileCtx = {
  root: RuleNode;
  builtins: ReadonlyMap<string, BuiltinDef>;
  /** Package path (dotted, with `data`) → names of its rules. */
  pkgRules: Map<string, Set<string>>;
  problems: CompileProblem[];
};

function problem(code: string, message: string, location: Location | undefined): CompileProblem {
  return { code, message, location };
}

function newNode(path: string[]): RuleNode {
  return { path, children: new Map(), rules: [], defaultRule: undefined, kind: 'none', arity: 0, uniform: false };
}

function nodeAt(root: RuleNode, path: string[]): RuleNode {
  let n = root;
  for (const seg of path) {
    let c = n.children.get(seg);
    if (!c) {
      c = newNode([...n.path, seg]);
      n.children.set(seg, c);
    }
    n = c;
  }
  return n;
}

/** Finds the node at a path, if rules exist there or below. */
export function findNode(root: RuleNode, path: readonly string[]): RuleNode | undefined {
  let n: RuleNode | undefined = root;
  for (const seg of path) {
    n = n.children.get(seg);
    if (!n) return undefined;
  }
  return n;
}

/** Sets a node's kind from its rules and rejects mixtures OPA rejects. */
function classify(node: RuleNode, rules: RawRule[], problems: CompileProblem[]): void {
  const name = `data.${node.path.join('.')}`;
  let kind: RuleNode['kind'] | undefined;
  for (const { rule, dyn } of rules) {
    const k: RuleNode['kind'] = rule.kind === 'func' ? 'func' : dyn.length ? 'object' : rule.kind === 'set' ? 'set' : 'value';
    const kk = k === 'object' && rule.kind === 'set' ? 'object' : k;
    if (kind === undefined) kind = kk;
    else if (kind !== kk) {
      problems.push(problem('rego_type_error', `conflicting rules ${name} found`, rule.loc));
      return;
    }
    if (rule.kind === 'func') {
      const arity = rule.args?.length ?? 0;
      if (node.kind === 'func' && node.arity !== arity) {
        problems.push(problem('rego_type_error', `conflicting rules ${name} found`, rule.loc));
        return;
      }
      node.arity = arity;
    }
    node.kind = kk;
  }
  if (node.kind === 'func' || node.kind === 'value' || node.kind === 'set') {
    if (node.children.size) problems.push(problem('rego_type_error', `rule ${name} conflicts with [${[...node.children.values()].map((c) => `data.${c.path.join('.')}`).join(' ')}]`, rules[0]!.rule.loc));
  }
}

/** Lexical scope: names → frame slots; closures get child scopes. */
class Scope {
  readonly vars = new Map<string, number>();
  /** Slots declared in this scope (including generated ones). */
  readonly slots = new Set<number>();
  readonly children: Scope[] = [];
  constructor(
    readonly parent: Scope | undefined,
    readonly frame: { n: number },
  ) {
    parent?.children.push(this);
  }
  lookup(name: string): number | undefined {
    for (let s: Scope | undefined = this; s; s = s.parent) {
      const v = s.vars.get(name);
      if (v !== undefined) return v;
    }
    return undefined;
  }
  declare(name: string): number {
    const slot = this.frame.n++;
    if (name !== '_') this.vars.set(name, slot);
    this.slots.add(slot);
    return slot;
  }
  /** A fresh slot with no source name (wildcards, rewritten function arguments). */
  fresh(): number {
    const slot = this.frame.n++;
    this.slots.add(slot);
    return slot;
  }
}

/** Compiles one rule (and its else chain). Returns undefined after recording problems. */
function compileRule(rule: Rule, dyn: Term[], module: Module, ctx: CompileCtx): CRule | undefined {
  const imports = new Map<string, Import>();
  for (const imp of module.imports) imports.set(imp.alias, imp);
  const before = ctx.problems.length;
  const compileOne = (r: Rule): CRule => {
    const res = new Resolver(ctx, module.pkg, imports, module.file);
    const scope = new Scope(undefined, res.frame);
    // Function arguments: plain vars bind directly; other patterns become `slot = pattern` body literals.
    const argSlots: number[] = [];
    const argExprs: Expr[] = [];
    for (const a of r.args ?? []) {
      if (a.type === 'var' && a.name === '_') argSlots.push(scope.fresh());
      else if (a.type === 'var' && !scope.vars.has(a.name)) argSlots.push(scope.declare(a.name));
      else {
        const slot = scope.fresh();
        argSlots.push(slot);
        argExprs.push({
          negated: false,
          with: [],
          loc: a.loc,
          body: { kind: 'unify', left: { type: 'var', name: `$arg${slot}`, loc: a.loc, slot }, right: a },
        });
      }
    }
    const headTerms = r.isDefault ? [] : [...dyn, r.value];
    const body = res.resolveBody([...argExprs, ...r.body], scope, headTerms);
    const rdyn = r.isDefault ? [] : dyn.map((t) => res.resolveTerm(t, scope));
    const value = res.resolveTerm(r.value, scope);
    const ordered = res.orderBody(body, new Set(argSlots), [...rdyn, value]);
    const safe = res.safeAfter(ordered, new Set(argSlots));
    for (const t of [...rdyn, value]) res.requireSafe(t, safe);
    return {
      kind: r.kind,
      dyn: rdyn,
      value,
      body: ordered,
      nslots: res.frame.n,
      argSlots,
      elseRule: r.elseRule ? compileOne(r.elseRule) : undefined,
      constValue: isConstant(value),
      loc: r.loc,
    };
  };
  const out = compileOne(rule);
  return ctx.problems.length > before ? undefined : out;
}

function uniformScalar(rules: CRule[]): boolean {
  let value: Term | undefined;
  const same = (r: CRule): boolean => {
    if (r.value.type !== 'scalar') return false;
    if (value === undefined) value = r.value;
    else if (value.type !== 'scalar' || value.value !== r.value.value) return false;
    return r.elseRule ? same(r.elseRule) : true;
  };
  return rules.length > 0 && rules.every(same);
}

function isConstant(t: Term): boolean {
  switch (t.type) {
    case 'scalar':
      return true;
    case 'array':
    case 'set':
      return t.items.every(isConstant);
    case 'object':
      return t.entries.every(([k, v]) => isConstant(k) && isConstant(v));
    default:
      return false;
  }
}

/** Per-rule name resolution and safety ordering. */
class Resolver {
  readonly frame = { n: 0 };
  private readonly pkgNames: Set<string>;
  constructor(
    private readonly ctx: CompileCtx,
    private readonly pkg: string[],
    private readonly imports: Map<string, Import>,
    private readonly file: string,
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
      d.forEach((n) => declared.add(n));
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
        if (b.kind === 'assign' && !isPattern(b.left)) this.err('rego_parse_error', 'cannot assign to ' + termKindName(b.left), e.loc);
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
    const vname = (w.value.type === 'var' || w.value.type === 'ref') && (w.value.type !== 'var' || !scope.lookup(w.value.name)) ? termPathNames(w.value) : undefined;
    const replacement = vname && (vname[0] === 'data' || !this.isGlobal(vname[0]!) || this.dataPathIsFunc(vname)) ? this.resolveCallName(vname, false) : undefined;
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
      else if (target?.kind === 'func') out.mock = { kind: 'function', key: 'data.' + target.path.join('.') };
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
        if (report && l) this.err('rego_type_error', `undefined function ${op[0] === 'data' ? op.join('.') : 'data.' + path.join('.')}`, l);
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

  // ---- safety ordering ----

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
      if (detExpr(ordered, S, this.ctx.builtins)) {
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

/**
 * Whether an expression has at most one solution given the bound slots `S` (so the evaluator can
 * run it in place instead of nesting a continuation): no enumeration through unbound ref vars,
 * `some ... in`, or relation builtins.
 */
function detExpr(e: Expr, S: Set<number>, builtins: ReadonlyMap<string, BuiltinDef>): boolean {
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

function diff(a: Set<number>, b: Set<number>): Set<number> {
  const out = new Set<number>();
  for (const x of a) if (!b.has(x)) out.add(x);
  return out;
}

function collectScopeSlots(s: Scope, out: Set<number>): void {
  for (const x of s.slots) out.add(x);
  for (const c of s.children) collectScopeSlots(c, out);
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

// ---- variable collection helpers ----

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
  else if (t.type === 'array') t.items.forEach((i) => patternNames(i, out));
  else if (t.type === 'object') t.entries.forEach(([, v]) => patternNames(v, out));
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
      t.path.forEach((p) => termNames(p, out));
      break;
    case 'array':
    case 'set':
      t.items.forEach((i) => termNames(i, out));
      break;
    case 'object':
      t.entries.forEach(([k, v]) => {
        termNames(k, out);
        termNames(v, out);
      });
      break;
    case 'call':
      t.args.forEach((a) => termNames(a, out));
      break;
  }
}

/** Every slot used in a term; `deep` includes closure bodies. */
function slotsOfTerm(t: Term, out: Set<number>, deep: boolean): void {
  switch (t.type) {
    case 'var':
      if (t.slot !== undefined) out.add(t.slot);
      break;
    case 'ref':
      slotsOfTerm(t.head, out, deep);
      t.path.forEach((p) => slotsOfTerm(p, out, deep));
      break;
    case 'array':
    case 'set':
      t.items.forEach((i) => slotsOfTerm(i, out, deep));
      break;
    case 'object':
      t.entries.forEach(([k, v]) => {
        slotsOfTerm(k, out, deep);
        slotsOfTerm(v, out, deep);
      });
      break;
    case 'call':
      t.args.forEach((a) => slotsOfTerm(a, out, deep));
      break;
    case 'arraycompr':
    case 'setcompr':
      if (deep) {
        slotsOfTerm(t.head, out, deep);
        t.body.forEach((e) => slotsOfExpr(e, out));
      } else (t.free ?? []).forEach((s) => out.add(s));
      break;
    case 'objectcompr':
      if (deep) {
        slotsOfTerm(t.key, out, deep);
        slotsOfTerm(t.value, out, deep);
        t.body.forEach((e) => slotsOfExpr(e, out));
      } else (t.free ?? []).forEach((s) => out.add(s));
      break;
    case 'template':
      if (deep) t.parts.forEach((p) => typeof p !== 'string' && slotsOfExpr(p, out));
      else (t.free ?? []).forEach((s) => out.add(s));
      break;
  }
}

function slotsOfExpr(e: Expr, out: Set<number>): void {
  for (const w of e.with) slotsOfTerm(w.value, out, true);
  slotsOfExprBody(e.body, out);
}

function slotsOfExprBody(b: ExprBody, out: Set<number>): void {
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
      b.vars.forEach((v) => slotsOfTerm(v, out, true));
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
      b.body.forEach((e) => slotsOfExpr(e, out));
      break;
    case 'body':
      b.body.forEach((e) => slotsOfExpr(e, out));
      break;
  }
}

/** Slots an expression depends on, seen from its own body (closures contribute only their free slots). */
function exprSlots(e: Expr): Set<number> {
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
      (b.free ?? []).forEach((s) => out.add(s));
      break;
    case 'body':
      (b.free ?? []).forEach((s) => out.add(s));
      break;
  }
  return out;
}

function collectVarTerms(e: Expr, out: Term[]): void {
  const b = e.body;
  const terms: Term[] =
    b.kind === 'term' ? [b.term] : b.kind === 'unify' || b.kind === 'assign' ? [b.left, b.right] : b.kind === 'somein' ? [b.value, b.coll] : b.kind === 'every' ? [b.coll] : [];
  for (const t of terms) collectTermVars(t, out);
}

function collectTermVars(t: Term, out: Term[]): void {
  switch (t.type) {
    case 'var':
      out.push(t);
      break;
    case 'ref':
      collectTermVars(t.head, out);
      t.path.forEach((p) => collectTermVars(p, out));
      break;
    case 'array':
    case 'set':
      t.items.forEach((i) => collectTermVars(i, out));
      break;
    case 'object':
      t.entries.forEach(([k, v]) => {
        collectTermVars(k, out);
        collectTermVars(v, out);
      });
      break;
    case 'call':
      t.args.forEach((a) => collectTermVars(a, out));
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

// ---- recursion ----

/** Rejects rules that depend on themselves (OPA's rego_recursion_error). */
function checkRecursion(root: RuleNode, problems: CompileProblem[]): void {
  const deps = new Map<RuleNode, Set<RuleNode>>();
  const all: RuleNode[] = [];
  const walk = (n: RuleNode) => {
    if (n.rules.length || n.defaultRule) all.push(n);
    for (const c of n.children.values()) walk(c);
  };
  walk(root);
  for (const n of all) {
    const set = new Set<RuleNode>();
    const visitRule = (r: CRule) => {
      for (const e of r.body) depsOfExpr(e, root, set);
      for (const t of [...r.dyn, r.value]) depsOfTerm(t, root, set);
      if (r.elseRule) visitRule(r.elseRule);
    };
    n.rules.forEach(visitRule);
    deps.set(n, set);
  }
  const state = new Map<RuleNode, 1 | 2>();
  const stack: RuleNode[] = [];
  const visit = (n: RuleNode): boolean => {
    const s = state.get(n);
    if (s === 2) return false;
    if (s === 1) {
      const cycle = stack.slice(stack.indexOf(n)).concat(n);
      const name = (x: RuleNode) => 'data.' + x.path.join('.');
      const r = n.rules[0];
      problems.push(problem('rego_recursion_error', `rule ${name(n)} is recursive: ${cycle.map(name).join(' -> ')}`, r?.loc));
      return true;
    }
    state.set(n, 1);
    stack.push(n);
    for (const d of deps.get(n) ?? []) if (visit(d)) return true;
    stack.pop();
    state.set(n, 2);
    return false;
  };
  for (const n of all) if (visit(n)) return;
}

function depsOfExpr(e: Expr, root: RuleNode, out: Set<RuleNode>): void {
  const terms: Term[] = e.with.map((w) => w.value);
  const b = e.body;
  if (b.kind === 'term') terms.push(b.term);
  else if (b.kind === 'unify' || b.kind === 'assign') terms.push(b.left, b.right);
  else if (b.kind === 'somein') terms.push(...(b.key ? [b.key] : []), b.value, b.coll);
  else if (b.kind === 'every') {
    terms.push(b.coll);
    b.body.forEach((x) => depsOfExpr(x, root, out));
  } else if (b.kind === 'body') b.body.forEach((x) => depsOfExpr(x, root, out));
  for (const w of e.with) if (w.replacement?.kind === 'func') addNodes(root, w.replacement.path, out);
  terms.forEach((t) => depsOfTerm(t, root, out));
}

function depsOfTerm(t: Term, root: RuleNode, out: Set<RuleNode>): void {
  switch (t.type) {
    case 'ref':
      if (t.global?.root === 'data') {
        const path: string[] = [];
        for (const p of t.path) {
          if (p.type === 'scalar' && (typeof p.value === 'string' || typeof p.value === 'number')) path.push(String(p.value));
          else break;
        }
        addNodes(root, path, out, path.length === t.path.length);
      } else depsOfTerm(t.head, root, out);
      t.path.forEach((p) => depsOfTerm(p, root, out));
      break;
    case 'call':
      if (t.target?.kind === 'func') addNodes(root, t.target.path, out);
      t.args.forEach((a) => depsOfTerm(a, root, out));
      break;
    case 'array':
    case 'set':
      t.items.forEach((i) => depsOfTerm(i, root, out));
      break;
    case 'object':
      t.entries.forEach(([k, v]) => {
        depsOfTerm(k, root, out);
        depsOfTerm(v, root, out);
      });
      break;
    case 'arraycompr':
    case 'setcompr':
      depsOfTerm(t.head, root, out);
      t.body.forEach((e) => depsOfExpr(e, root, out));
      break;
    case 'objectcompr':
      depsOfTerm(t.key, root, out);
      depsOfTerm(t.value, root, out);
      t.body.forEach((e) => depsOfExpr(e, root, out));
      break;
    case 'template':
      t.parts.forEach((p) => typeof p !== 'string' && depsOfExpr(p, root, out));
      break;
  }
}

/**
 * Adds the rule nodes a data path can reach: the nodes along it that have rules, and every rule
 * node below it when the path is complete. Dynamic paths are left to the evaluator's recursion guard.
 */
function addNodes(root: RuleNode, path: string[], out: Set<RuleNode>, complete = true): void {
  let n: RuleNode | undefined = root;
  for (const seg of path) {
    if (n.rules.length || n.defaultRule) {
      out.add(n);
      return;
    }
    n = n.children.get(seg);
    if (!n) return;
  }
  if (n.rules.length || n.defaultRule) {
    out.add(n);
    return;
  }
  if (!complete) return;
  const all = (x: RuleNode) => {
    if (x.rules.length || x.defaultRule) out.add(x);
    for (const c of x.children.values()) all(c);
  };
  all(n);
}

