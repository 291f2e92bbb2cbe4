/**
 * Compiler stage `buildRuleTree`: places every parsed rule at the node of its ground head path,
 * so later stages can resolve a data reference to the rules it reaches.
 */
import type { Module, Rule, Term } from './ast';
import { problem } from './errors';
import type { CompileProblem } from './errors';
import type { RuleNode } from './ir';

/** A parsed rule at its node: `dyn` holds the head selectors after the ground path (partial rules). */
export type RawRule = { rule: Rule; module: Module; dyn: Term[] };

/** The tree with its rules not yet compiled, and each package's rule names for name resolution. */
export type RuleTree = {
  root: RuleNode;
  raw: Map<RuleNode, RawRule[]>;
  /** Package path (dotted, with `data`) → names of its rules. */
  pkgRules: Map<string, Set<string>>;
};

/** Builds the rule tree of a set of modules. */
export function buildRuleTree(modules: Module[], problems: CompileProblem[]): RuleTree {
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
  return { root, raw, pkgRules };
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
