import type { Body, Expr, ExprBody, Import, Module, Rule, Term, With } from './ast';
import { loc } from './ast';
import { RegoCompileError } from './errors';
import type { CompileProblem, Location } from './errors';
import { parseError, tokenize } from './lexer';
import type { Token } from './lexer';

/** Infix operators and the builtin each one calls. */
const RELATION_OPS: Record<string, string> = { '==': 'equal', '!=': 'neq', '<': 'lt', '>': 'gt', '<=': 'lte', '>=': 'gte' };
const ARITH_OPS: Record<string, string> = { '+': 'plus', '-': 'minus' };
const FACTOR_OPS: Record<string, string> = { '*': 'mul', '/': 'div', '%': 'rem' };

/** Words that cannot be used as variable names. */
const KEYWORDS = new Set(['not', 'with', 'as', 'some', 'every', 'in', 'if', 'contains', 'else', 'default', 'package', 'import']);

/** Parses a module's source (Rego v1). */
export function parseModule(src: string, file: string): Module {
  return new Parser(tokenize(src, file), file).module();
}

/** Compiler stage `parseModules`: parses every module (file name → source), collecting all their errors. */
export function parseModules(sources: Record<string, string>, problems: CompileProblem[]): Module[] {
  const modules: Module[] = [];
  for (const [file, src] of Object.entries(sources)) {
    try {
      modules.push(parseModule(src, file));
    } catch (e) {
      if (e instanceof RegoCompileError) problems.push(...e.errors);
      else throw e;
    }
  }
  return modules;
}

/** Parses a query (body of literals separated by `;` or newlines). */
export function parseQuery(src: string, file = 'query'): Body {
  const p = new Parser(tokenize(src, file), file);
  const body = p.bodyUntil('eof');
  if (body.length === 0) parseError(file, 1, 1, 'empty query');
  return body;
}

/** Parses a single term (used for `input_term` style inputs). */
export function parseTermSource(src: string, file = 'term'): Term {
  const p = new Parser(tokenize(src, file), file);
  const t = p.termIn(false);
  p.expectEof();
  return t;
}

class Parser {
  private pos = 0;
  /** Nesting depth inside (), [] and collection braces, where newlines do not end an expression. */
  private depth = 0;
  constructor(
    private readonly toks: Token[],
    private readonly file: string,
  ) {}

  private get tok(): Token {
    return this.toks[this.pos]!;
  }
  private peek(k = 1): Token {
    return this.toks[Math.min(this.pos + k, this.toks.length - 1)]!;
  }
  private next(): Token {
    const t = this.tok;
    if (t.t !== 'eof') this.pos++;
    return t;
  }
  private isOp(v: string, t = this.tok): boolean {
    return t.t === 'op' && t.v === v;
  }
  private isWord(v: string, t = this.tok): boolean {
    return t.t === 'ident' && t.v === v && !this.namePosition(t);
  }
  /** A keyword directly followed by `.name` or `[` is used as a name (`if.foo := 1`, `data.x.not`). */
  private namePosition(t: Token): boolean {
    const i = t.i;
    const n = this.toks[i + 1];
    if (!n || n.sp || n.t !== 'op') return false;
    if (n.v === '[') return true;
    const m = this.toks[i + 2];
    return n.v === '.' && m !== undefined && m.t === 'ident' && !m.sp;
  }
  private locOf(t: Token): Location {
    return loc(this.file, t.row, t.col);
  }
  private fail(message: string, t = this.tok): never {
    return parseError(this.file, t.row, t.col, message);
  }
  private unexpected(expected?: string): never {
    const t = this.tok;
    const what = t.t === 'eof' ? 'eof' : t.t === 'string' ? 'string' : t.t === 'number' ? 'number' : t.t === 'ident' ? 'ident' : t.v;
    return this.fail(`unexpected ${what} token${expected ? `: expected ${expected}` : ''}`);
  }
  private expectOp(v: string): Token {
    if (!this.isOp(v)) this.unexpected(v);
    return this.next();
  }
  expectEof(): void {
    if (this.tok.t !== 'eof') this.unexpected();
  }
  /** Whether an infix operator at the current token continues the expression (not across a newline at top level). */
  private continues(): boolean {
    return this.depth > 0 || !this.tok.nl;
  }

  module(): Module {
    if (!this.isWord('package')) this.fail('package expected');
    this.next();
    const pkgTerm = this.refOrVar();
    const pkg = refToStrings(pkgTerm, this.file);
    const imports: Import[] = [];
    const rules: Rule[] = [];
    while (this.isWord('import')) {
      const it = this.next();
      const path = this.refOrVar();
      let alias: string | undefined;
      if (this.isWord('as')) {
        this.next();
        const a = this.next();
        if (a.t !== 'ident') this.fail('import alias must be a variable', a);
        alias = a.v;
      }
      const segs = refToStrings(path, this.file);
      const root = segs[0];
      if (root === 'future' || root === 'rego') {
        if (root === 'future' && segs[1] !== 'keywords') this.fail('invalid import, must be `future.keywords`', it);
        if (root === 'rego' && segs[1] !== 'v1') this.fail('invalid import, must be `rego.v1`', it);
        continue;
      }
      if (root !== 'data' && root !== 'input') this.fail(`invalid import ${segs.join('.')}, must begin with input or data`, it);
      imports.push({ path, alias: alias ?? segs[segs.length - 1]!, loc: this.locOf(it) });
    }
    while (this.tok.t !== 'eof') {
      if (this.isWord('import')) this.fail('import must come before rules');
      rules.push(...this.rule());
    }
    return { file: this.file, pkg, imports, rules };
  }

  /** Parses a var optionally followed by `.name` / `[term]` selectors (package paths, import paths, rule heads). */
  private refOrVar(): Term {
    const t = this.next();
    if (t.t !== 'ident') this.fail(`unexpected ${t.t} token: expected ref`, t);
    const head: Term = { type: 'var', name: t.v, loc: this.locOf(t) };
    const path: Term[] = [];
    while (true) {
      if (this.isOp('.') && !this.tok.sp && this.peek().t === 'ident' && !this.peek().sp) {
        this.next();
        const n = this.next();
        path.push({ type: 'scalar', value: n.v, loc: this.locOf(n) });
      } else if (this.isOp('[') && !this.tok.sp) {
        this.next();
        this.depth++;
        path.push(this.termIn(false));
        this.depth--;
        this.expectOp(']');
      } else break;
    }
    return path.length ? { type: 'ref', head, path, loc: head.loc } : head;
  }

  /** Parses one rule (a default rule, or a rule with its else chain). */
  private rule(): Rule[] {
    const start = this.tok;
    if (this.isWord('default')) {
      this.next();
      const head = this.refOrVar();
      let args: Term[] | undefined;
      if (this.isOp('(')) args = this.callArgs();
      if (!this.isOp(':=') && !this.isOp('=')) this.unexpected(':= or =');
      const assign = this.next().v === ':=';
      const value = this.termIn(false);
      return [
        {
          kind: args ? 'func' : 'value',
          ref: headRef(head),
          args,
          value,
          assign,
          body: [],
          elseRule: undefined,
          isDefault: true,
          loc: this.locOf(start),
        },
      ];
    }
    if (this.tok.t !== 'ident') this.unexpected('rule');
    const head = this.refOrVar();
    const ref = headRef(head);
    if (ref.length === 1 && ref[0]!.type === 'scalar' && KEYWORDS.has(String(ref[0]!.value)))
      this.fail(`unexpected keyword ${String(ref[0]!.value)}`, start);
    let args: Term[] | undefined;
    if (this.isOp('(') && !this.tok.sp) args = this.callArgs();
    let kind: Rule['kind'] = args ? 'func' : 'value';
    let value: Term | undefined;
    let assign = false;
    if (this.isWord('contains')) {
      if (args) this.fail('unexpected contains keyword: functions cannot use contains');
      this.next();
      kind = 'set';
      value = this.termIn(false);
    } else if (this.isOp(':=') || this.isOp('=')) {
      assign = this.next().v === ':=';
      value = this.termIn(false);
    }
    const headLoc = this.locOf(start);
    const body = this.ruleBody(value === undefined && kind !== 'set');
    const rule: Rule = {
      kind,
      ref,
      args,
      value: value ?? { type: 'scalar', value: true, loc: headLoc },
      assign,
      body,
      elseRule: undefined,
      isDefault: false,
      loc: headLoc,
    };
    let last = rule;
    while (this.isWord('else')) {
      if (kind === 'set') this.fail('else keyword cannot be used on multi-value rules');
      const et = this.next();
      let ev: Term | undefined;
      let eassign = assign;
      if (this.isOp(':=') || this.isOp('=')) {
        eassign = this.next().v === ':=';
        ev = this.termIn(false);
      }
      const ebody = this.ruleBody(false);
      const er: Rule = {
        kind,
        ref,
        args,
        value: ev ?? { type: 'scalar', value: true, loc: this.locOf(et) },
        assign: eassign,
        body: ebody,
        elseRule: undefined,
        isDefault: false,
        loc: this.locOf(et),
      };
      last.elseRule = er;
      last = er;
    }
    return [rule];
  }

  /** Parses `if { ... }`, `if literal`, or nothing (an always-true body). */
  private ruleBody(bareHead: boolean): Body {
    if (this.isWord('if')) {
      this.next();
      if (this.isOp('{')) {
        // `if { ... }` is a body, unless it only parses as a term (`if {x: y | ...}`).
        const save = this.pos;
        try {
          this.next();
          const body = this.bodyUntil('}');
          this.expectOp('}');
          if (body.length === 0) this.fail('found empty body');
          return body;
        } catch (e) {
          this.pos = save;
          try {
            return [this.literal()];
          } catch {
            throw e;
          }
        }
      }
      return [this.literal()];
    }
    if (this.isOp('{') && !this.tok.nl) this.fail('`if` keyword is required before rule body');
    if (bareHead && this.tok.t !== 'eof' && !this.tok.nl && !this.isWord('else')) this.unexpected();
    return [];
  }

  private callArgs(): Term[] {
    this.expectOp('(');
    this.depth++;
    const args: Term[] = [];
    while (!this.isOp(')')) {
      args.push(this.termIn(false));
      if (!this.isOp(',')) break;
      this.next();
    }
    this.depth--;
    this.expectOp(')');
    return args;
  }

  /** Parses literals separated by `;` or newlines until the closing token (not consumed). */
  bodyUntil(end: '}' | ']' | 'eof'): Body {
    const saved = this.depth;
    this.depth = 0;
    const body: Body = [];
    while (true) {
      while (this.isOp(';')) this.next();
      if (end === 'eof' ? this.tok.t === 'eof' : this.isOp(end)) break;
      body.push(this.literal());
      if (this.isOp(';')) continue;
      if (end === 'eof' ? this.tok.t === 'eof' : this.isOp(end)) break;
      if (!this.tok.nl) this.unexpected();
    }
    this.depth = saved;
    return body;
  }

  /** Parses one body literal: `some`, `every`, `not expr`, or an expression, plus `with` modifiers. */
  private literal(): Expr {
    const start = this.tok;
    const l = this.locOf(start);
    let body: ExprBody;
    let negated = false;
    if (this.isWord('some')) {
      this.next();
      body = this.someDecl();
    } else if (this.isWord('every')) {
      this.next();
      body = this.everyExpr();
    } else {
      if (this.isWord('not')) {
        this.next();
        negated = true;
      }
      body = negated && this.isOp('{') ? this.negatedBody() : this.exprBody();
    }
    const withs: With[] = [];
    while (this.isWord('with')) {
      const wt = this.next();
      const target = this.refOrVar();
      if (!this.isWord('as')) this.unexpected('as');
      this.next();
      const value = this.termIn(false);
      withs.push({ target, value, loc: this.locOf(wt) });
    }
    return { negated, with: withs, loc: l, body };
  }

  /** `not { ... }` with a body, falling back to a term when the braces are a literal. */
  private negatedBody(): ExprBody {
    const save = this.pos;
    try {
      this.next();
      const body = this.bodyUntil('}');
      this.expectOp('}');
      if (body.length && (this.tok.nl || this.tok.t === 'eof' || this.isOp('}') || this.isOp(';') || this.isOp(']') || this.isWord('with')))
        return { kind: 'body', body };
    } catch {
      // not a body: parse as an expression below
    }
    this.pos = save;
    return this.exprBody();
  }

  private someDecl(): ExprBody {
    const t = this.termIn(true);
    if (t.type === 'call' && t.op.length === 2 && t.op[0] === 'internal' && (t.op[1] === 'member_2' || t.op[1] === 'member_3')) {
      return t.args.length === 2
        ? { kind: 'somein', key: undefined, value: t.args[0]!, coll: t.args[1]! }
        : { kind: 'somein', key: t.args[0]!, value: t.args[1]!, coll: t.args[2]! };
    }
    const vars: Term[] = [t];
    while (this.isOp(',')) {
      this.next();
      vars.push(this.termIn(false));
    }
    for (const v of vars) if (v.type !== 'var') this.fail('expected var in some declaration', this.tok);
    return { kind: 'some', vars };
  }

  private everyExpr(): ExprBody {
    const t = this.termIn(true);
    if (!(t.type === 'call' && t.op[0] === 'internal' && (t.op[1] === 'member_2' || t.op[1] === 'member_3')))
      this.fail('expected `x in xs` after every');
    this.expectOp('{');
    const body = this.bodyUntil('}');
    this.expectOp('}');
    return t.args.length === 2
      ? { kind: 'every', key: undefined, value: t.args[0]!, coll: t.args[1]!, body }
      : { kind: 'every', key: t.args[0]!, value: t.args[1]!, coll: t.args[2]!, body };
  }

  private exprBody(): ExprBody {
    const left = this.termIn(true);
    if (this.isOp(':=') || this.isOp('=')) {
      const op = this.next().v;
      const right = this.termIn(false);
      return op === ':=' ? { kind: 'assign', left, right } : { kind: 'unify', left, right };
    }
    return { kind: 'term', term: left };
  }

  /** `in` level: `x in xs`, and with `keyVal` also `k, v in xs`. */
  termIn(keyVal: boolean, noOr = false): Term {
    let lhs = this.termRelation(noOr);
    while (true) {
      if (keyVal && this.isOp(',')) {
        const save = this.pos;
        this.next();
        const mhs = this.termRelation(noOr);
        if (this.isWord('in')) {
          const it = this.next();
          const rhs = this.termRelation(noOr);
          lhs = this.call(['internal', 'member_3'], [lhs, mhs, rhs], lhs.loc ?? this.locOf(it));
          keyVal = false;
          continue;
        }
        this.pos = save;
        return lhs;
      }
      if (this.isWord('in') && this.continues()) {
        this.next();
        const rhs = this.termRelation(noOr);
        lhs = this.call(['internal', 'member_2'], [lhs, rhs], lhs.loc);
        keyVal = false;
        continue;
      }
      return lhs;
    }
  }

  private termRelation(noOr: boolean): Term {
    let lhs = this.termOr(noOr);
    while (this.tok.t === 'op' && RELATION_OPS[this.tok.v] && this.continues()) {
      const op = RELATION_OPS[this.next().v]!;
      lhs = this.call([op], [lhs, this.termOr(noOr)], lhs.loc);
    }
    return lhs;
  }
  private termOr(noOr: boolean): Term {
    let lhs = this.termAnd();
    while (!noOr && this.isOp('|') && this.continues()) {
      this.next();
      lhs = this.call(['or'], [lhs, this.termAnd()], lhs.loc);
    }
    return lhs;
  }
  private termAnd(): Term {
    let lhs = this.termArith();
    while (this.isOp('&') && this.continues()) {
      this.next();
      lhs = this.call(['and'], [lhs, this.termArith()], lhs.loc);
    }
    return lhs;
  }
  private termArith(): Term {
    let lhs = this.termFactor();
    while (this.tok.t === 'op' && ARITH_OPS[this.tok.v] && this.continues()) {
      const op = ARITH_OPS[this.next().v]!;
      lhs = this.call([op], [lhs, this.termFactor()], lhs.loc);
    }
    return lhs;
  }
  private termFactor(): Term {
    let lhs = this.primary();
    while (this.tok.t === 'op' && FACTOR_OPS[this.tok.v] && this.continues()) {
      const op = FACTOR_OPS[this.next().v]!;
      lhs = this.call([op], [lhs, this.primary()], lhs.loc);
    }
    return lhs;
  }

  private call(op: string[], args: Term[], l: Location): Term {
    return { type: 'call', op, args, loc: l };
  }

  /** Primary term followed by any ref selectors or call suffixes. */
  private primary(): Term {
    const t = this.tok;
    const l = this.locOf(t);
    let term: Term;
    switch (t.t) {
      case 'number':
        this.next();
        term = { type: 'scalar', value: parseNumber(t.v), loc: l };
        break;
      case 'string':
        this.next();
        term = { type: 'scalar', value: t.str!, loc: l };
        break;
      case 'template':
        this.next();
        term = this.template(t);
        break;
      case 'ident':
        if ((t.v === 'null' || t.v === 'true' || t.v === 'false') && !this.namePosition(t)) {
          this.next();
          term = { type: 'scalar', value: t.v === 'null' ? null : t.v === 'true', loc: l };
          break;
        }
        if (t.v === 'set' && this.isOp('(', this.peek()) && this.isOp(')', this.peek(2))) {
          this.pos += 3;
          term = { type: 'set', items: [], loc: l };
          break;
        }
        if (KEYWORDS.has(t.v) && !this.namePosition(t) && !(t.v !== 'not' && this.isOp('(', this.peek()) && !this.peek().sp)) this.unexpected();
        this.next();
        term = { type: 'var', name: t.v, loc: l };
        break;
      case 'op':
        if (t.v === '[') {
          term = this.arrayOrCompr();
          break;
        }
        if (t.v === '{') {
          term = this.braceTerm();
          break;
        }
        if (t.v === '(') {
          this.next();
          this.depth++;
          term = this.termIn(true);
          this.depth--;
          this.expectOp(')');
          break;
        }
        if (t.v === '-') {
          this.next();
          const n = this.tok;
          if (n.t === 'number' && !n.sp) {
            this.next();
            term = { type: 'scalar', value: negate(parseNumber(n.v)), loc: l };
            break;
          }
          const operand = this.primary();
          return this.call(['minus'], [{ type: 'scalar', value: 0, loc: l }, operand], l);
        }
        return this.unexpected();
      default:
        return this.unexpected();
    }
    return this.suffixes(term);
  }

  /** Applies `.name`, `[term]` and `(args)` suffixes. */
  private suffixes(term: Term): Term {
    while (true) {
      const t = this.tok;
      if (this.isOp('.') && !t.sp && this.peek().t === 'ident' && !this.peek().sp) {
        this.next();
        const n = this.next();
        term = appendRef(term, { type: 'scalar', value: n.v, loc: this.locOf(n) });
      } else if (this.isOp('[') && !t.sp) {
        this.next();
        this.depth++;
        const key = this.termIn(false);
        this.depth--;
        this.expectOp(']');
        term = appendRef(term, key);
      } else if (this.isOp('(') && !t.sp && (term.type === 'var' || term.type === 'ref')) {
        const op = callName(term);
        if (!op) this.fail('invalid function name');
        const args = this.callArgs();
        term = { type: 'call', op, args, loc: term.loc };
      } else return term;
    }
  }

  private arrayOrCompr(): Term {
    const open = this.next();
    const l = this.locOf(open);
    this.depth++;
    if (this.isOp(']')) {
      this.depth--;
      this.next();
      return { type: 'array', items: [], loc: l };
    }
    const first = this.termIn(false, true);
    if (this.isOp('|')) {
      this.next();
      const body = this.bodyUntil(']');
      this.depth--;
      this.expectOp(']');
      return { type: 'arraycompr', head: first, body, loc: l };
    }
    const items = [first];
    while (this.isOp(',')) {
      this.next();
      if (this.isOp(']')) break;
      items.push(this.termIn(false));
    }
    this.depth--;
    this.expectOp(']');
    return { type: 'array', items, loc: l };
  }

  private braceTerm(): Term {
    const open = this.next();
    const l = this.locOf(open);
    this.depth++;
    if (this.isOp('}')) {
      this.depth--;
      this.next();
      return { type: 'object', entries: [], loc: l };
    }
    const first = this.termIn(false, true);
    if (this.isOp(':')) {
      this.next();
      const v = this.termIn(false, true);
      if (this.isOp('|')) {
        this.next();
        const body = this.bodyUntil('}');
        this.depth--;
        this.expectOp('}');
        return { type: 'objectcompr', key: first, value: v, body, loc: l };
      }
      const entries: [Term, Term][] = [[first, v]];
      while (this.isOp(',')) {
        this.next();
        if (this.isOp('}')) break;
        const k = this.termIn(false);
        this.expectOp(':');
        entries.push([k, this.termIn(false)]);
      }
      this.depth--;
      this.expectOp('}');
      return { type: 'object', entries, loc: l };
    }
    if (this.isOp('|')) {
      this.next();
      const body = this.bodyUntil('}');
      this.depth--;
      this.expectOp('}');
      return { type: 'setcompr', head: first, body, loc: l };
    }
    const items = [first];
    while (this.isOp(',')) {
      this.next();
      if (this.isOp('}')) break;
      items.push(this.termIn(false));
    }
    this.depth--;
    this.expectOp('}');
    return { type: 'set', items, loc: l };
  }

  private template(t: Token): Term {
    const parts: (string | Expr)[] = [];
    for (const p of t.parts!) {
      if ('text' in p) {
        parts.push(p.text);
        continue;
      }
      const sub = new Parser(tokenize(p.src, this.file, p.row, p.col), this.file);
      if (sub.tok.t === 'eof') parseError(this.file, p.row, p.col, 'empty template expression');
      const e = sub.literal();
      sub.expectEof();
      if (e.negated || e.body.kind !== 'term') parseError(this.file, p.row, p.col, 'template expression must be a term');
      parts.push(e);
    }
    return { type: 'template', parts, loc: this.locOf(t) };
  }
}

/** Number literal: exact BigInt for integers beyond 2^53, a double otherwise. */
function parseNumber(s: string): number | bigint {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    return Number.isSafeInteger(n) ? n : BigInt(s);
  }
  return Number(s);
}

function negate(n: number | bigint): number | bigint {
  return typeof n === 'bigint' ? -n : -n;
}

function appendRef(term: Term, key: Term): Term {
  if (term.type === 'ref') return { type: 'ref', head: term.head, path: [...term.path, key], loc: term.loc };
  return { type: 'ref', head: term, path: [key], loc: term.loc };
}

/** Name path of a call operator (`count`, `io.jwt.decode`, `data.pkg.f`). */
function callName(term: Term): string[] | undefined {
  if (term.type === 'var') return [term.name];
  if (term.type !== 'ref' || term.head.type !== 'var') return undefined;
  const out = [term.head.name];
  for (const p of term.path) {
    if (p.type !== 'scalar' || typeof p.value !== 'string') return undefined;
    out.push(p.value);
  }
  return out;
}

/** Rule head reference as a list: first element the rule name (a string scalar), then the selectors. */
function headRef(head: Term): Term[] {
  if (head.type === 'var') return [{ type: 'scalar', value: head.name, loc: head.loc }];
  if (head.type === 'ref' && head.head.type === 'var') return [{ type: 'scalar', value: head.head.name, loc: head.head.loc }, ...head.path];
  return [head];
}

/** Converts a ground ref (package or import path) to strings. */
function refToStrings(t: Term, file: string): string[] {
  if (t.type === 'var') return [t.name];
  if (t.type !== 'ref' || t.head.type !== 'var') return parseError(file, t.loc.row, t.loc.col, 'invalid path');
  const out = [t.head.name];
  for (const p of t.path) {
    if (p.type !== 'scalar' || typeof p.value !== 'string')
      return parseError(file, p.loc.row, p.loc.col, 'invalid path: path elements must be strings');
    out.push(p.value);
  }
  return out;
}
