/**
 * Compiler stage `resolveAndOrder`: compiles every rule of the tree (and its else chain) into the
 * IR: names resolved to slots and targets, bodies in safe order, heads checked for safety.
 */
import type { Expr, Import, Module, Rule, Term } from './ast';
import { problem } from './errors';
import type { CRule, RuleNode } from './ir';
import { Resolver } from './resolve';
import type { ResolveEnv } from './resolve';
import type { RawRule } from './rule-tree';
import { SafetyOrderer } from './safety';
import { Scope } from './scope';

/** Compiles the rules of every node; a rule with problems is left out (the problems are recorded). */
export function resolveAndOrderRules(raw: Map<RuleNode, RawRule[]>, env: ResolveEnv): void {
  for (const [node, rules] of raw) {
    for (const { rule, module, dyn } of rules) {
      const compiled = compileRule(rule, dyn, module, env);
      if (!compiled) continue;
      if (rule.isDefault) {
        if (node.defaultRule) env.problems.push(problem('rego_type_error', `multiple default rules data.${node.path.join('.')} found`, rule.loc));
        node.defaultRule = compiled;
      } else node.rules.push(compiled);
    }
  }
}

/** Compiles one rule (and its else chain). Returns undefined after recording problems. */
function compileRule(rule: Rule, dyn: Term[], module: Module, ctx: ResolveEnv): CRule | undefined {
  const imports = new Map<string, Import>();
  for (const imp of module.imports) imports.set(imp.alias, imp);
  const before = ctx.problems.length;
  const compileOne = (r: Rule): CRule => {
    const res = new Resolver(ctx, module.pkg, imports);
    const order = new SafetyOrderer(ctx.builtins, ctx.problems);
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
    const ordered = order.orderBody(body, new Set(argSlots), [...rdyn, value]);
    const safe = order.safeAfter(ordered, new Set(argSlots));
    for (const t of [...rdyn, value]) order.requireSafe(t, safe);
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
