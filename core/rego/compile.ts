/**
 * Compiler driver: runs the named stages in order over a set of modules (as OPA's compiler runs
 * `c.stages`) and produces the IR (`ir.ts`) that evaluation runs on.
 */
import type { Module } from './ast';
import type { BuiltinDef } from './builtins/types';
import { checkRuleKinds } from './rule-kinds';
import { resolveAndOrderRules } from './compile-rules';
import { RegoCompileError } from './errors';
import type { CompileProblem } from './errors';
import type { CompiledPolicy, CompiledQuery } from './ir';
import { parseModules, parseQuery } from './parser';
import { checkRecursion } from './recursion';
import { Resolver } from './resolve';
import { buildRuleTree } from './rule-tree';
import type { RuleTree } from './rule-tree';
import { SafetyOrderer } from './safety';
import { Scope } from './scope';
import { markUniform } from './uniform';

/** What the stages read and fill in, in stage order. */
type CompileState = {
  sources: Record<string, string>;
  builtins: ReadonlyMap<string, BuiltinDef>;
  problems: CompileProblem[];
  modules: Module[];
  tree: RuleTree | undefined;
};

/** A named compiler stage; `halt`: compilation stops there when any problem has been recorded. */
export type Stage = { name: string; halt: boolean; run: (s: CompileState) => void };

/** The compiler's stages, in the order they run. */
export const STAGES: readonly Stage[] = [
  {
    name: 'parseModules',
    halt: true,
    run: (s) => {
      s.modules = parseModules(s.sources, s.problems);
    },
  },
  {
    name: 'buildRuleTree',
    halt: true,
    run: (s) => {
      s.tree = buildRuleTree(s.modules, s.problems);
    },
  },
  // Kind conflicts do not halt: resolution problems of the same modules are reported with them.
  { name: 'checkRuleKinds', halt: false, run: (s) => checkRuleKinds(tree(s).raw, s.problems) },
  {
    name: 'resolveAndOrder',
    halt: true,
    run: (s) => resolveAndOrderRules(tree(s).raw, { root: tree(s).root, builtins: s.builtins, pkgRules: tree(s).pkgRules, problems: s.problems }),
  },
  { name: 'markUniform', halt: false, run: (s) => markUniform(tree(s).raw.keys()) },
  { name: 'checkRecursion', halt: true, run: (s) => checkRecursion(tree(s).root, s.problems) },
];

function tree(s: CompileState): RuleTree {
  if (!s.tree) throw new Error('compiler stage ran before buildRuleTree');
  return s.tree;
}

/** Compiles modules (file name → source) into a policy. Throws RegoCompileError. */
export function compileModules(sources: Record<string, string>, builtins: ReadonlyMap<string, BuiltinDef>): CompiledPolicy {
  const state: CompileState = { sources, builtins, problems: [], modules: [], tree: undefined };
  for (const stage of STAGES) {
    stage.run(state);
    if (stage.halt && state.problems.length) throw new RegoCompileError(state.problems);
  }
  return { root: tree(state).root, builtins, queryCache: new Map() };
}

/** Compiles a query against a policy (memoized per query text). */
export function compileQuery(policy: CompiledPolicy, query: string): CompiledQuery {
  const hit = policy.queryCache.get(query);
  if (hit) return hit;
  const body = parseQuery(query);
  const problems: CompileProblem[] = [];
  const r = new Resolver({ root: policy.root, builtins: policy.builtins, pkgRules: new Map(), problems }, [], new Map());
  const scope = new Scope(undefined, r.frame);
  const resolved = r.resolveBody(body, scope, []);
  const ordered = new SafetyOrderer(policy.builtins, problems).orderBody(resolved, new Set(), []);
  if (problems.length) throw new RegoCompileError(problems);
  const outputs = [...scope.vars].filter(([name]) => !name.startsWith('$')).map(([name, slot]) => ({ name, slot }));
  const cq: CompiledQuery = { body: ordered, nslots: r.frame.n, outputs };
  if (policy.queryCache.size < 256) policy.queryCache.set(query, cq);
  return cq;
}
