/**
 * Compiler stage `checkRecursion`: rejects rules that depend on themselves through the rule tree
 * (OPA's rego_recursion_error); recursion through dynamic refs is left to the evaluator's guard.
 */
import type { Expr, Term } from './ast';
import { problem } from './errors';
import type { CompileProblem } from './errors';
import type { CRule, RuleNode } from './ir';

/** Rejects rules that depend on themselves (OPA's rego_recursion_error). */
export function checkRecursion(root: RuleNode, problems: CompileProblem[]): void {
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
      const name = (x: RuleNode) => `data.${x.path.join('.')}`;
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
    for (const x of b.body) depsOfExpr(x, root, out);
  } else if (b.kind === 'body') {
    for (const x of b.body) depsOfExpr(x, root, out);
  }
  for (const w of e.with) if (w.replacement?.kind === 'func') addNodes(root, w.replacement.path, out);
  for (const t of terms) depsOfTerm(t, root, out);
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
      for (const p of t.path) depsOfTerm(p, root, out);
      break;
    case 'call':
      if (t.target?.kind === 'func') addNodes(root, t.target.path, out);
      for (const a of t.args) depsOfTerm(a, root, out);
      break;
    case 'array':
    case 'set':
      for (const i of t.items) depsOfTerm(i, root, out);
      break;
    case 'object':
      for (const [k, v] of t.entries) {
        depsOfTerm(k, root, out);
        depsOfTerm(v, root, out);
      }
      break;
    case 'arraycompr':
    case 'setcompr':
      depsOfTerm(t.head, root, out);
      for (const e of t.body) depsOfExpr(e, root, out);
      break;
    case 'objectcompr':
      depsOfTerm(t.key, root, out);
      depsOfTerm(t.value, root, out);
      for (const e of t.body) depsOfExpr(e, root, out);
      break;
    case 'template':
      for (const p of t.parts) if (typeof p !== 'string') depsOfExpr(p, root, out);
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
