/**
 * Compiler stage `markUniform`: flags nodes whose rules all yield one scalar, so evaluation can
 * stop at the first defined rule (no conflict is possible) instead of evaluating them all.
 */
import type { Term } from './ast';
import type { CRule, RuleNode } from './ir';

/** Sets `uniform` on every node that has rules. */
export function markUniform(nodes: Iterable<RuleNode>): void {
  for (const node of nodes) node.uniform = uniformScalar(node.rules);
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
