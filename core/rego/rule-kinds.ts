/**
 * Compiler stage `checkRuleKinds`: gives each node its kind (complete, partial set or object,
 * function) and arity before resolution, which must know which paths are functions.
 */
import { problem } from './errors';
import type { CompileProblem } from './errors';
import type { RuleNode } from './ir';
import type { RawRule } from './rule-tree';

/** Sets every node's kind and arity, rejecting the mixtures OPA rejects (`conflicting rules`). */
export function checkRuleKinds(raw: Map<RuleNode, RawRule[]>, problems: CompileProblem[]): void {
  for (const [node, rules] of raw) classify(node, rules, problems);
}

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
    if (node.children.size)
      problems.push(
        problem(
          'rego_type_error',
          `rule ${name} conflicts with [${[...node.children.values()].map((c) => `data.${c.path.join('.')}`).join(' ')}]`,
          rules[0]!.rule.loc,
        ),
      );
  }
}
