/**
 * Top-down evaluator. Continuation-passing search over compiled bodies: every `eval*` method calls
 * its continuation once per solution and returns true when a continuation asked to halt.
 * Bindings live in a per-rule frame (array of slots) and are undone on backtrack.
 */
import type { Body, CallTarget, Expr, ExprBody, Term, With } from './ast';
import type { BuiltinContext, EvalContext } from './builtins/types';
import { findNode } from './ir';
import type { CompiledPolicy, CompiledQuery, CRule, RuleNode } from './ir';
import { BuiltinError, RegoError, RegoEvalError, RegoLimitError } from './errors';
import type { Location } from './errors';
import { RObject, RSet, equal, hashKey, termString } from './value';
import type { Value } from './value';

type Frame = (Value | undefined)[];
type K = () => boolean;
type KV = (v: Value) => boolean;

/** Evaluation limits; exceeding one raises RegoLimitError (`eval_limit_exceeded`). */
export type Limits = { maxSteps: number; maxDepth: number; timeoutMs?: number };

/** Options for one evaluation. */
export type EvalOptions = {
  input: Value | undefined;
  data: Value;
  context: EvalContext;
  strictBuiltinErrors: boolean;
  limits: Limits;
};

/** Replacement installed by `with` for a function or builtin. */
type Mock = { kind: 'value'; value: Value } | { kind: 'func'; target: CallTarget };

/** `with data...` replacements as a tree keyed by path segment. */
type Override = { value: Value | undefined; children: Map<string, Override> };

/** State that `with` replaces: input, data overrides, function mocks and the caches valid for them. */
type Ctx = {
  input: Value | undefined;
  overrides: Override | undefined;
  mocks: Map<string, Mock> | undefined;
  cache: Map<RuleNode, Value | undefined | typeof IN_PROGRESS>;
  funcCache: Map<RuleNode, Map<string, Value | undefined>>;
};

const IN_PROGRESS = Symbol('in-progress');
const HALT: K = () => true;

function conflict(message: string, l: Location | undefined): RegoEvalError {
  return new RegoEvalError('eval_conflict_error', message, l);
}

/** One query evaluation over a compiled policy. Not reusable: create one per evaluation. */
export class Evaluator {
  private steps = 0;
  private depth = 0;
  private readonly deadline: number | undefined;
  private ctx: Ctx;
  private readonly bctx: BuiltinContext;
  private readonly nodeOf = new Map<CallTarget, RuleNode | undefined>();

  constructor(
    private readonly policy: CompiledPolicy,
    private readonly opts: EvalOptions,
  ) {
    this.ctx = { input: opts.input, overrides: undefined, mocks: undefined, cache: new Map(), funcCache: new Map() };
    this.bctx = { context: opts.context, charge: (n) => this.charge(n) };
    this.deadline = opts.limits.timeoutMs !== undefined ? Date.now() + opts.limits.timeoutMs : undefined;
  }

  /** Runs a compiled query; returns one binding map per solution. */
  run(q: CompiledQuery): Map<string, Value>[] {
    const rows: Map<string, Value>[] = [];
    const f: Frame = new Array(q.nslots);
    try {
      this.evalBody(q.body, 0, f, () => {
        const row = new Map<string, Value>();
        for (const o of q.outputs) {
          const v = f[o.slot];
          if (v !== undefined) row.set(o.name, v);
        }
        rows.push(row);
        return false;
      });
    } catch (e) {
      if (e instanceof RangeError) throw new RegoLimitError('evaluation exceeded the maximum call stack depth');
      if (e instanceof RegoEvalError) e.resultSet = rows;
      throw e;
    }
    return rows;
  }

  private tick(): void {
    if (++this.steps > this.opts.limits.maxSteps) throw new RegoLimitError(`evaluation exceeded ${this.opts.limits.maxSteps} steps`);
    if (this.deadline !== undefined && (this.steps & 1023) === 0 && Date.now() > this.deadline) {
      throw new RegoLimitError(`evaluation exceeded ${this.opts.limits.timeoutMs} ms`);
    }
  }

  /** Bulk form of `tick` for builtins; the deadline is checked on every charge since one may be large. */
  private charge(n: number): void {
    this.steps += n;
    if (this.steps > this.opts.limits.maxSteps) throw new RegoLimitError(`evaluation exceeded ${this.opts.limits.maxSteps} steps`);
    if (this.deadline !== undefined && Date.now() > this.deadline) throw new RegoLimitError(`evaluation exceeded ${this.opts.limits.timeoutMs} ms`);
  }

  private enter(l: Location | undefined): void {
    if (++this.depth > this.opts.limits.maxDepth) throw new RegoLimitError(`evaluation exceeded depth ${this.opts.limits.maxDepth}`, l);
  }

  // ---- bodies and expressions ----

  private evalBody(body: Body, i: number, f: Frame, k: K): boolean {
    if (i === body.length) return k();
    if (!body[i]!.det) return this.evalExpr(body[i]!, f, () => this.evalBody(body, i + 1, f, k));
    // Deterministic expressions run in place: no continuation nesting, bindings undone afterwards.
    const undo: number[] = [];
    let j = i;
    let ok = true;
    while (j < body.length && body[j]!.det) {
      if (!this.evalDet(body[j]!, f, undo)) {
        ok = false;
        break;
      }
      j++;
    }
    let result = false;
    try {
      if (ok) result = j === body.length ? k() : this.evalExpr(body[j]!, f, () => this.evalBody(body, j + 1, f, k));
    } finally {
      for (const s of undo) f[s] = undefined;
    }
    return result;
  }

  /** Runs a deterministic expression; on success its new bindings stay in the frame and are listed in `undo`. */
  private evalDet(e: Expr, f: Frame, undo: number[]): boolean {
    const outs = e.outs!;
    if (outs.length === 0) return this.evalExpr(e, f, HALT);
    let vals: (Value | undefined)[] | undefined;
    this.evalExpr(e, f, () => {
      vals = outs.map((s) => f[s]);
      return true;
    });
    if (!vals) return false;
    for (let j = 0; j < outs.length; j++) {
      const s = outs[j]!;
      if (f[s] === undefined && vals[j] !== undefined) {
        f[s] = vals[j];
        undo.push(s);
      }
    }
    return true;
  }

  private evalExpr(e: Expr, f: Frame, k: K): boolean {
    this.tick();
    if (e.with.length) return this.withContext(e, f, (wrap) => this.evalPlain(e, f, wrap(k)));
    return this.evalPlain(e, f, k);
  }

  private evalPlain(e: Expr, f: Frame, k: K): boolean {
    if (e.negated) return this.evalExprBody(e.body, f, HALT) ? false : k();
    return this.evalExprBody(e.body, f, k);
  }

  private evalExprBody(b: ExprBody, f: Frame, k: K): boolean {
    switch (b.kind) {
      case 'term':
        return this.evalTerm(b.term, f, (v) => (v === false ? false : k()));
      case 'unify':
      case 'assign':
        return this.unify(b.left, b.right, f, k);
      case 'some':
        return k();
      case 'somein':
        return this.evalTerm(b.coll, f, (c) =>
          this.iterate(c, (key, val) =>
            b.key ? this.unifyValue(b.key, key, f, () => this.unifyValue(b.value, val, f, k)) : this.unifyValue(b.value, val, f, k),
          ),
        );
      case 'body':
        return this.evalBody(b.body, 0, f, k);
      case 'every':
        return this.evalTerm(b.coll, f, (c) => {
          if (!(Array.isArray(c) || c instanceof RObject || c instanceof RSet)) return false;
          let ok = true;
          this.iterate(c, (key, val) => {
            const holds = b.key
              ? this.unifyValue(b.key, key, f, () => this.unifyValue(b.value, val, f, () => this.evalBody(b.body, 0, f, HALT)))
              : this.unifyValue(b.value, val, f, () => this.evalBody(b.body, 0, f, HALT));
            if (!holds) ok = false;
            return !holds;
          });
          return ok ? k() : false;
        });
    }
  }

  /**
   * Evaluates `with` values, installs them for the expression, and restores the outer state
   * around continuations (`wrap`), since modifiers apply only to their expression.
   */
  private withContext(e: Expr, f: Frame, run: (wrap: (k: K) => K) => boolean): boolean {
    return this.withValues(e.with, 0, [], f, (vals) => {
      const outer = this.ctx;
      const inner: Ctx = {
        input: outer.input,
        overrides: outer.overrides,
        mocks: outer.mocks ? new Map(outer.mocks) : undefined,
        cache: new Map(),
        funcCache: new Map(),
      };
      for (let i = 0; i < e.with.length; i++) this.applyWith(inner, e.with[i]!, vals[i]!, f);
      this.ctx = inner;
      try {
        return run((k) => () => {
          this.ctx = outer;
          try {
            return k();
          } finally {
            this.ctx = inner;
          }
        });
      } finally {
        this.ctx = outer;
      }
    });
  }

  private withValues(ws: With[], i: number, acc: (Value | null)[], f: Frame, k: (vals: (Value | null)[]) => boolean): boolean {
    if (i === ws.length) return k(acc);
    const w = ws[i]!;
    if (w.replacement && w.mock?.kind === 'function') {
      acc[i] = null;
      return this.withValues(ws, i + 1, acc, f, k);
    }
    let first: Value | undefined;
    this.evalTerm(w.value, f, (v) => {
      first = v;
      return true;
    });
    if (first === undefined) return false;
    acc[i] = first;
    return this.withValues(ws, i + 1, acc, f, k);
  }

  private applyWith(ctx: Ctx, w: With, value: Value | null, f: Frame): void {
    const mock = w.mock;
    if (!mock) throw new RegoEvalError('eval_type_error', 'invalid with target', w.loc);
    switch (mock.kind) {
      case 'input': {
        const keys: Value[] = [];
        for (const p of mock.path) {
          let key: Value | undefined;
          this.evalTerm(p, f, (v) => {
            key = v;
            return true;
          });
          if (key === undefined) return;
          keys.push(key);
        }
        ctx.input = setPath(ctx.input, keys, value as Value);
        return;
      }
      case 'data':
        ctx.overrides = addOverride(ctx.overrides, mock.path, value as Value);
        return;
      case 'function': {
        const mocks = ctx.mocks ?? new Map<string, Mock>();
        ctx.mocks = mocks;
        if (w.replacement) {
          // Replacing a function by itself (or by a mocked one) resolves through the outer mocks.
          const outerMock = this.ctx.mocks?.get(targetKey(w.replacement));
          mocks.set(mock.key, outerMock ?? { kind: 'func', target: w.replacement });
        } else mocks.set(mock.key, { kind: 'value', value: value as Value });
        return;
      }
    }
  }

  // ---- unification ----

  private unify(a: Term, b: Term, f: Frame, k: K): boolean {
    if (a.type === 'var' && f[a.slot!] === undefined) return this.evalTerm(b, f, (v) => this.bind(a.slot!, v, f, k));
    if (this.canEval(a, f)) return this.evalTerm(a, f, (v) => this.unifyValue(b, v, f, k));
    if (this.canEval(b, f)) return this.evalTerm(b, f, (v) => this.unifyValue(a, v, f, k));
    if (a.type === 'array' && b.type === 'array') {
      if (a.items.length !== b.items.length) return false;
      return this.unifyPairs(
        a.items.map((x, i) => [x, b.items[i]!]),
        f,
        k,
      );
    }
    if (a.type === 'object' && b.type === 'object') {
      if (a.entries.length !== b.entries.length) return false;
      const pairs: [Term, Term][] = [];
      for (const [ka, va] of a.entries) {
        const kv = this.groundValue(ka, f);
        const other = b.entries.find(([kb]) => {
          const x = this.groundValue(kb, f);
          return x !== undefined && kv !== undefined && equal(x, kv);
        });
        if (!other) return false;
        pairs.push([va, other[1]]);
      }
      return this.unifyPairs(pairs, f, k);
    }
    throw new RegoEvalError('rego_unsafe_var_error', 'unification of two unbound terms', a.loc);
  }

  private unifyPairs(pairs: [Term, Term][], f: Frame, k: K): boolean {
    if (pairs.length === 0) return k();
    let idx = pairs.findIndex(([x, y]) => this.canEval(x, f) || this.canEval(y, f));
    if (idx < 0) idx = 0;
    const [x, y] = pairs[idx]!;
    const rest = pairs.filter((_, i) => i !== idx);
    return this.unify(x, y, f, () => this.unifyPairs(rest, f, k));
  }

  private groundValue(t: Term, f: Frame): Value | undefined {
    let out: Value | undefined;
    if (!this.canEval(t, f)) return undefined;
    this.evalTerm(t, f, (v) => {
      out = v;
      return true;
    });
    return out;
  }

  private bind(slot: number, v: Value, f: Frame, k: K): boolean {
    f[slot] = v;
    const r = k();
    f[slot] = undefined;
    return r;
  }

  /** Unifies a (possibly pattern) term with a known value. */
  private unifyValue(t: Term, v: Value, f: Frame, k: K): boolean {
    switch (t.type) {
      case 'var': {
        const cur = f[t.slot!];
        if (cur === undefined) return this.bind(t.slot!, v, f, k);
        return equal(cur, v) ? k() : false;
      }
      case 'scalar':
        return equal(t.value, v) ? k() : false;
      case 'array':
        if (!Array.isArray(v) || v.length !== t.items.length) return false;
        return this.unifyItems(t.items, v, 0, f, k);
      case 'object': {
        if (!(v instanceof RObject) || v.size !== t.entries.length) return false;
        return this.unifyEntries(t.entries, v, 0, f, k);
      }
      default:
        return this.evalTerm(t, f, (x) => (equal(x, v) ? k() : false));
    }
  }

  private unifyItems(items: Term[], vals: Value[], i: number, f: Frame, k: K): boolean {
    if (i === items.length) return k();
    return this.unifyValue(items[i]!, vals[i]!, f, () => this.unifyItems(items, vals, i + 1, f, k));
  }

  private unifyEntries(entries: [Term, Term][], obj: RObject, i: number, f: Frame, k: K): boolean {
    if (i === entries.length) return k();
    const [kt, vt] = entries[i]!;
    return this.evalTerm(kt, f, (key) => {
      const v = obj.get(key);
      return v === undefined ? false : this.unifyValue(vt, v, f, () => this.unifyEntries(entries, obj, i + 1, f, k));
    });
  }

  /** Whether a term can be evaluated with the current bindings (ref path vars may be unbound). */
  private canEval(t: Term, f: Frame): boolean {
    switch (t.type) {
      case 'var':
        return f[t.slot!] !== undefined;
      case 'ref':
        return t.global !== undefined || this.canEval(t.head, f);
      case 'call':
        return t.args.every((a) => this.canEval(a, f));
      case 'array':
      case 'set':
        return t.items.every((i) => this.canEval(i, f));
      case 'object':
        return t.entries.every(([a, b]) => this.canEval(a, f) && this.canEval(b, f));
      default:
        return true;
    }
  }

  // ---- terms ----

  /** Evaluates a term, calling `k` for each of its values. */
  evalTerm(t: Term, f: Frame, k: KV): boolean {
    switch (t.type) {
      case 'scalar':
        return k(t.value);
      case 'var': {
        const v = f[t.slot!];
        if (v === undefined) throw new RegoEvalError('rego_unsafe_var_error', `var ${t.name} is unsafe`, t.loc);
        return k(v);
      }
      case 'ref':
        return this.evalRef(t, f, k);
      case 'array':
        return this.evalItems(t.items, 0, new Array(t.items.length), f, (vals) => k(vals.slice()));
      case 'set':
        return this.evalItems(t.items, 0, new Array(t.items.length), f, (vals) => k(RSet.of(vals)));
      case 'object':
        return this.evalObject(t.entries, 0, new RObject(), f, k);
      case 'call':
        return this.evalCall(t, f, k);
      case 'arraycompr': {
        const out: Value[] = [];
        this.enter(t.loc);
        this.evalBody(t.body, 0, f, () =>
          this.evalTerm(t.head, f, (v) => {
            out.push(v);
            return false;
          }),
        );
        this.depth--;
        return k(out);
      }
      case 'setcompr': {
        const out = new RSet();
        this.enter(t.loc);
        this.evalBody(t.body, 0, f, () =>
          this.evalTerm(t.head, f, (v) => {
            out.add(v);
            return false;
          }),
        );
        this.depth--;
        return k(out);
      }
      case 'objectcompr': {
        const out = new RObject();
        this.enter(t.loc);
        this.evalBody(t.body, 0, f, () =>
          this.evalTerm(t.key, f, (key) =>
            this.evalTerm(t.value, f, (v) => {
              const cur = out.get(key);
              if (cur !== undefined && !equal(cur, v)) throw conflict('object keys must be unique', t.loc);
              out.set(key, v);
              return false;
            }),
          ),
        );
        this.depth--;
        return k(out);
      }
      case 'template':
        return k(this.evalTemplate(t.parts, f));
    }
  }

  private evalItems(items: Term[], i: number, acc: Value[], f: Frame, k: (vals: Value[]) => boolean): boolean {
    // Scalars and bound vars have exactly one value: take them in a loop (large literals stay shallow).
    for (; i < items.length; i++) {
      const t = items[i]!;
      if (t.type === 'scalar') acc[i] = t.value;
      else if (t.type === 'var' && f[t.slot!] !== undefined) acc[i] = f[t.slot!]!;
      else break;
    }
    if (i === items.length) return k(acc);
    return this.evalTerm(items[i]!, f, (v) => {
      acc[i] = v;
      return this.evalItems(items, i + 1, acc, f, k);
    });
  }

  private evalObject(entries: [Term, Term][], i: number, acc: RObject, f: Frame, k: KV): boolean {
    if (i === entries.length) return k(acc.copy());
    const [kt, vt] = entries[i]!;
    return this.evalTerm(kt, f, (key) =>
      this.evalTerm(vt, f, (v) => {
        const prev = acc.get(key);
        acc.set(key, v);
        const r = this.evalObject(entries, i + 1, acc, f, k);
        if (prev === undefined) acc.delete(key);
        else acc.set(key, prev);
        return r;
      }),
    );
  }

  private evalTemplate(parts: (string | Expr)[], f: Frame): string {
    let out = '';
    for (const p of parts) {
      if (typeof p === 'string') {
        out += p;
        continue;
      }
      let first: Value | undefined;
      const b = p.body;
      if (b.kind !== 'term') continue;
      const grab = () =>
        this.evalTerm(b.term, f, (v) => {
          first = v;
          return true;
        });
      if (p.with.length) this.withContext(p, f, () => grab());
      else grab();
      out += first === undefined ? '<undefined>' : typeof first === 'string' ? first : termString(first);
    }
    return out;
  }

  // ---- references ----

  private evalRef(t: Term & { type: 'ref' }, f: Frame, k: KV): boolean {
    if (t.global) {
      if (t.global.root === 'input') {
        const inp = this.ctx.input;
        return inp === undefined ? false : this.evalPath(inp, t.path, 0, f, k);
      }
      return this.evalData(this.policy.root, this.opts.data, this.ctx.overrides, t.path, 0, f, k);
    }
    return this.evalTerm(t.head, f, (h) => this.evalPath(h, t.path, 0, f, k));
  }

  /**
   * Walks a plain value along ref selectors; unbound var selectors enumerate. In base documents
   * (`storage`) object keys are strings, so a number selects the key with its text.
   */
  private evalPath(v: Value, path: Term[], i: number, f: Frame, k: KV, storage = false): boolean {
    if (i === path.length) return k(v);
    const p = path[i]!;
    if (p.type === 'var' && f[p.slot!] === undefined) {
      const slot = p.slot!;
      return this.iterate(v, (key, child) => {
        f[slot] = key;
        const r = this.evalPath(child, path, i + 1, f, k, storage);
        f[slot] = undefined;
        return r;
      });
    }
    if (p.type === 'scalar') {
      const child = storage ? storageLookup(v, p.value) : lookup(v, p.value);
      return child === undefined ? false : this.evalPath(child, path, i + 1, f, k, storage);
    }
    if (!this.canEval(p, f))
      return this.iterate(v, (key, child) => this.unifyValue(p, key, f, () => this.evalPath(child, path, i + 1, f, k, storage)));
    return this.evalTerm(p, f, (key) => {
      const child = storage ? storageLookup(v, key) : lookup(v, key);
      return child === undefined ? false : this.evalPath(child, path, i + 1, f, k, storage);
    });
  }

  /** Walks the data tree (base documents, rules, `with` overrides) along ref selectors. */
  private evalData(node: RuleNode | undefined, base: Value | undefined, ov: Override | undefined, path: Term[], i: number, f: Frame, k: KV): boolean {
    if (ov?.value !== undefined) return this.evalPath(ov.value, path, i, f, k);
    if (node && node.kind !== 'none') {
      const v = this.nodeValue(node, ov);
      return v === undefined ? false : this.evalPath(v, path, i, f, k);
    }
    if (!node && !ov) return base === undefined ? false : this.evalPath(base, path, i, f, k, true);
    if (i === path.length) {
      const v = this.docValue(node, base, ov);
      return v === undefined ? false : k(v);
    }
    const p = path[i]!;
    if (p.type === 'scalar') return this.dataStep(node, base, ov, p.value, path, i, f, k);
    if (this.canEval(p, f)) return this.evalTerm(p, f, (key) => this.dataStep(node, base, ov, key, path, i, f, k));
    const keys = new Map<string, Value>();
    if (node) for (const key of node.children.keys()) if (node.children.get(key)!.kind !== 'func') keys.set(hashKey(key), key);
    if (base instanceof RObject) for (const key of base.keys()) keys.set(hashKey(key), key);
    if (ov) for (const key of ov.children.keys()) keys.set(hashKey(key), key);
    for (const key of keys.values()) {
      this.tick();
      if (this.unifyValue(p, key, f, () => this.dataStep(node, base, ov, key, path, i, f, k))) return true;
    }
    return false;
  }

  /** Descends one key in the data tree. Base documents have string keys only: a number selects the key with its text. */
  private dataStep(
    node: RuleNode | undefined,
    base: Value | undefined,
    ov: Override | undefined,
    key: Value,
    path: Term[],
    i: number,
    f: Frame,
    k: KV,
  ): boolean {
    const sk = typeof key === 'string' ? key : typeof key === 'number' ? String(key) : undefined;
    if (sk === undefined) return this.evalData(undefined, lookup(base, key), undefined, path, i + 1, f, k);
    return this.evalData(node?.children.get(sk), lookup(base, sk) ?? lookup(base, key), ov?.children.get(sk), path, i + 1, f, k);
  }

  /** Value of the document at a tree position (undefined when nothing is there). */
  private docValue(node: RuleNode | undefined, base: Value | undefined, ov: Override | undefined): Value | undefined {
    if (ov?.value !== undefined) return ov.value;
    if (node && node.kind !== 'none') return this.nodeValue(node, ov);
    if (!node && !ov) return base;
    const out = new RObject();
    if (node) {
      for (const [name, child] of node.children) {
        if (child.kind === 'func') continue;
        const v = this.docValue(child, lookup(base, name), ov?.children.get(name));
        if (v !== undefined) out.set(name, v);
      }
    }
    // Base documents take precedence over rules at the same path, as in OPA.
    if (base instanceof RObject) {
      for (const [k, v] of base.entries()) {
        const child = typeof k === 'string' ? node?.children.get(k) : undefined;
        if (child?.kind !== 'none') out.set(k, v);
      }
    }
    if (ov) {
      for (const [name, child] of ov.children) {
        if (node?.children.has(name)) continue;
        const v = this.docValue(undefined, lookup(base, name), child);
        if (v !== undefined) out.set(name, v);
      }
    }
    return out;
  }

  // ---- rules ----

  /** Value of a rule node (cached per evaluation context), with deeper `with` overrides applied. */
  private nodeValue(node: RuleNode, ov: Override | undefined): Value | undefined {
    const cache = this.ctx.cache;
    let v = cache.get(node);
    if (v === IN_PROGRESS) throw new RegoEvalError('rego_recursion_error', `rule data.${node.path.join('.')} is recursive`);
    if (v === undefined && !cache.has(node)) {
      cache.set(node, IN_PROGRESS);
      try {
        v = this.computeNode(node);
      } finally {
        cache.delete(node);
      }
      cache.set(node, v);
    }
    return ov?.children.size ? patch(v as Value | undefined, ov) : (v as Value | undefined);
  }

  private computeNode(node: RuleNode): Value | undefined {
    this.enter(node.rules[0]?.loc);
    try {
      switch (node.kind) {
        case 'value':
          return this.evalComplete(node);
        case 'set': {
          const out = new RSet();
          for (const r of node.rules)
            this.evalRuleChain(r, undefined, (v) => {
              out.add(v);
              return false;
            });
          return out;
        }
        case 'object':
          return this.evalObjectRules(node);
        default:
          return undefined;
      }
    } finally {
      this.depth--;
    }
  }

  private evalComplete(node: RuleNode): Value | undefined {
    let result: Value | undefined;
    let loc: Location | undefined;
    for (const r of node.rules) {
      this.evalRuleChain(r, undefined, (v, rule) => {
        if (result === undefined) {
          result = v;
          loc = rule.loc;
        } else if (!equal(result, v)) throw conflict('complete rules must not produce multiple outputs', rule.loc ?? loc);
        return false;
      });
      if (result !== undefined && node.uniform) break;
    }
    if (result === undefined && node.defaultRule) result = this.constValue(node.defaultRule);
    return result;
  }

  private evalObjectRules(node: RuleNode): Value {
    const out = new RObject();
    // Objects and sets made by the head paths (not rule values) can be merged with other rules' output.
    const structural = new WeakSet<object>([out]);
    for (const r of node.rules) {
      const f: Frame = new Array(r.nslots);
      this.evalBody(r.body, 0, f, () =>
        this.evalItems(r.dyn, 0, new Array(r.dyn.length), f, (keys) =>
          this.evalTerm(r.value, f, (v) => {
            insertPath(out, keys, v, r.kind === 'set', r.loc, structural);
            return false;
          }),
        ),
      );
    }
    for (const [name, child] of node.children) {
      if (child.kind === 'func') continue;
      const v = this.docValue(child, undefined, undefined);
      if (v === undefined) continue;
      const cur = out.get(name);
      out.set(name, cur === undefined ? v : mergeDocs(cur, v, structural, child.rules[0]?.loc));
    }
    return out;
  }

  /** Evaluates a rule and, when its body has no solution, its else chain; `onValue` sees each head value. */
  private evalRuleChain(r: CRule, args: Value[] | undefined, onValue: (v: Value, rule: CRule) => boolean): void {
    const f: Frame = new Array(r.nslots);
    if (args) for (let i = 0; i < args.length; i++) f[r.argSlots[i]!] = args[i];
    let found = false;
    this.evalBody(r.body, 0, f, () => {
      found = true;
      let stop = false;
      this.evalTerm(r.value, f, (v) => {
        stop = onValue(v, r);
        return stop;
      });
      return stop || r.constValue;
    });
    if (!found && r.elseRule) this.evalRuleChain(r.elseRule, args, onValue);
  }

  private constValue(r: CRule): Value | undefined {
    let out: Value | undefined;
    this.evalTerm(r.value, new Array(r.nslots), (v) => {
      out = v;
      return true;
    });
    return out;
  }

  /** Calls a user function (memoized per argument tuple within the current context). */
  private callFunction(node: RuleNode, args: Value[], l: Location): Value | undefined {
    let memo = this.ctx.funcCache.get(node);
    const key = hashKey(args);
    if (memo?.has(key)) return memo.get(key);
    this.enter(l);
    let result: Value | undefined;
    try {
      for (const r of node.rules) {
        if (r.argSlots.length !== args.length) continue;
        this.evalRuleChain(r, args, (v, rule) => {
          if (result === undefined) result = v;
          else if (!equal(result, v)) throw conflict('functions must not produce multiple outputs for same inputs', rule.loc);
          return false;
        });
      }
      if (result === undefined && node.defaultRule) result = this.constValue(node.defaultRule);
    } finally {
      this.depth--;
    }
    if (!memo) {
      memo = new Map();
      this.ctx.funcCache.set(node, memo);
    }
    memo.set(key, result);
    return result;
  }

  // ---- calls ----

  private evalCall(t: Term & { type: 'call' }, f: Frame, k: KV): boolean {
    const target = t.target;
    if (!target) throw new RegoEvalError('rego_type_error', `undefined function ${t.op.join('.')}`, t.loc);
    if (target.kind === 'builtin' && this.policy.builtins.get(target.name)?.variadic) {
      // Variadic builtins (print) see every operand, undefined ones as "<undefined>", and never fail the body.
      const args = t.args.map((a) => {
        let first: Value = '<undefined>';
        this.evalTerm(a, f, (v) => {
          first = v;
          return true;
        });
        return first;
      });
      return this.applyCall(target, args, t.loc, k);
    }
    if (t.args.every((a) => this.canEval(a, f)))
      return this.evalItems(t.args, 0, new Array(t.args.length), f, (args) => this.applyCall(target, args, t.loc, k));
    return this.evalArgsOrdered(t.args, new Array(t.args.length), f, (args) => this.applyCall(target, args, t.loc, k));
  }

  private applyCall(target: CallTarget, args: Value[], l: Location, k: KV): boolean {
    const res = this.invoke(target, args.slice(), l);
    if (res === undefined) return false;
    if (res instanceof Multi) {
      for (const v of res.values) if (k(v)) return true;
      return false;
    }
    return k(res);
  }

  /** Evaluates arguments in an order where refs bind the vars other arguments use (`x == xs[x]`). */
  private evalArgsOrdered(args: Term[], acc: (Value | undefined)[], f: Frame, k: (vals: Value[]) => boolean): boolean {
    const i = args.findIndex((a, j) => acc[j] === undefined && this.canEval(a, f));
    if (i < 0) {
      if (acc.every((v) => v !== undefined)) return k(acc as Value[]);
      const j = acc.indexOf(undefined);
      return this.evalTerm(args[j]!, f, () => false);
    }
    return this.evalTerm(args[i]!, f, (v) => {
      acc[i] = v;
      const r = this.evalArgsOrdered(args, acc, f, k);
      acc[i] = undefined;
      return r;
    });
  }

  /** Calls a builtin or user function, honouring `with` mocks and strict/non-strict builtin errors. */
  private invoke(target: CallTarget, args: Value[], l: Location): Value | Multi | undefined {
    this.tick();
    const mock = this.ctx.mocks?.get(targetKey(target));
    if (mock) {
      if (mock.kind === 'value') return mock.value;
      if (mock.target.kind === 'func') {
        // A replacement function sees the original functions, not the mocks.
        const outer = this.ctx;
        this.ctx = { ...outer, mocks: undefined, cache: new Map(), funcCache: new Map() };
        try {
          return this.invoke(mock.target, args, l);
        } finally {
          this.ctx = outer;
        }
      }
      target = mock.target;
    }
    if (target.kind === 'func') {
      let node = this.nodeOf.get(target);
      if (node === undefined && !this.nodeOf.has(target)) {
        node = findNode(this.policy.root, target.path);
        this.nodeOf.set(target, node);
      }
      if (!node) return undefined;
      return this.callFunction(node, args, l);
    }
    const def = this.policy.builtins.get(target.name);
    if (!def) throw new RegoEvalError('rego_type_error', `undefined function ${target.name}`, l);
    try {
      const r = def.fn(args, this.bctx);
      if (def.relation) return new Multi(r as Value[]);
      return r;
    } catch (e) {
      if (e instanceof RegoError) throw e;
      const err = e instanceof BuiltinError ? e : new BuiltinError('eval_builtin_error', `${target.name}: ${(e as Error).message}`);
      if (this.opts.strictBuiltinErrors) throw new RegoEvalError(err.code, err.message, l);
      return undefined;
    }
  }

  /** Enumerates (key, value) pairs of a collection; returns true when `fn` halted. */
  private iterate(c: Value, fn: (key: Value, val: Value) => boolean): boolean {
    if (Array.isArray(c)) {
      for (let i = 0; i < c.length; i++) {
        this.tick();
        if (fn(i, c[i]!)) return true;
      }
      return false;
    }
    if (c instanceof RObject) {
      for (const [key, val] of c.entries()) {
        this.tick();
        if (fn(key, val)) return true;
      }
      return false;
    }
    if (c instanceof RSet) {
      for (const v of c.values()) {
        this.tick();
        if (fn(v, v)) return true;
      }
    }
    return false;
  }
}

/** Several results of a relation builtin (e.g. `walk`). */
class Multi {
  constructor(readonly values: Value[]) {}
}

function targetKey(t: CallTarget): string {
  return t.kind === 'builtin' ? t.name : `data.${t.path.join('.')}`;
}

/** Child of a collection under a key (set refs yield the element itself). */
function lookup(v: Value | undefined, key: Value): Value | undefined {
  if (v instanceof RObject) return v.get(key);
  if (Array.isArray(v)) {
    if (typeof key === 'number') return Number.isInteger(key) ? v[key] : undefined;
    return undefined;
  }
  if (v instanceof RSet) return v.has(key) ? key : undefined;
  return undefined;
}

/**
 * Merges a document defined by another rule into a head-path structure: sets union and objects
 * merge recursively, but a rule's value cannot be extended from outside (OPA's conflict).
 */
function mergeDocs(a: Value, b: Value, structural: WeakSet<object>, l: Location | undefined): Value {
  if (a instanceof RSet && b instanceof RSet && structural.has(a)) return RSet.of([...a.values(), ...b.values()]);
  if (a instanceof RObject && b instanceof RObject && structural.has(a)) {
    const out = a.copy();
    structural.add(out);
    for (const [k, v] of b.entries()) {
      const cur = out.get(k);
      out.set(k, cur === undefined ? v : mergeDocs(cur, v, structural, l));
    }
    return out;
  }
  if (!equal(a, b)) throw conflict('object keys must be unique', l);
  return a;
}

/** Lookup in a base document, where a number also selects the object key with its text. */
function storageLookup(v: Value | undefined, key: Value): Value | undefined {
  const child = lookup(v, key);
  return child === undefined && typeof key === 'number' && v instanceof RObject ? v.get(String(key)) : child;
}

/** Inserts a value at a key path of a partial object (or into the set at that path). */
function insertPath(obj: RObject, keys: Value[], v: Value, isSet: boolean, l: Location, structural: WeakSet<object>): void {
  let cur = obj;
  for (let j = 0; j < keys.length - 1; j++) {
    const key = keys[j]!;
    const next = cur.get(key);
    if (next === undefined) {
      const fresh = new RObject();
      structural.add(fresh);
      cur.set(key, fresh);
      cur = fresh;
    } else if (next instanceof RObject && structural.has(next)) cur = next;
    else throw conflict('object keys must be unique', l);
  }
  const last = keys[keys.length - 1]!;
  const existing = cur.get(last);
  if (isSet) {
    if (existing === undefined) {
      const fresh = RSet.of([v]);
      structural.add(fresh);
      cur.set(last, fresh);
    } else if (existing instanceof RSet && structural.has(existing)) existing.add(v);
    else throw conflict('object keys must be unique', l);
    return;
  }
  if (existing !== undefined && !equal(existing, v)) throw conflict('object keys must be unique', l);
  cur.set(last, v);
}

/** Returns a copy of `base` with `value` stored at `keys`. */
function setPath(base: Value | undefined, keys: Value[], value: Value): Value {
  if (keys.length === 0) return value;
  const obj = base instanceof RObject ? base.copy() : new RObject();
  obj.set(keys[0]!, setPath(obj.get(keys[0]!), keys.slice(1), value));
  return obj;
}

function addOverride(root: Override | undefined, path: string[], value: Value): Override {
  const top: Override = root ? cloneOverride(root) : { value: undefined, children: new Map() };
  let cur = top;
  for (let i = 0; i < path.length; i++) {
    if (cur.value !== undefined) {
      cur.value = setPath(cur.value, path.slice(i), value);
      return top;
    }
    const seg = path[i]!;
    let next = cur.children.get(seg);
    next = next ? cloneOverride(next) : { value: undefined, children: new Map() };
    cur.children.set(seg, next);
    cur = next;
  }
  cur.value = value;
  cur.children = new Map();
  return top;
}

function cloneOverride(o: Override): Override {
  return { value: o.value, children: new Map(o.children) };
}

/** Applies nested overrides to a value. */
function patch(v: Value | undefined, ov: Override): Value | undefined {
  if (ov.value !== undefined) return ov.value;
  if (ov.children.size === 0) return v;
  const obj = v instanceof RObject ? v.copy() : new RObject();
  for (const [k, c] of ov.children) {
    const pv = patch(obj.get(k), c);
    if (pv !== undefined) obj.set(k, pv);
  }
  return obj;
}
