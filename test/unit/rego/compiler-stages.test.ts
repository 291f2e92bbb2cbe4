import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { STAGES } from '../../../core/rego/compile';
import { RegoCompileError, compilePolicy } from '../../../core/rego/index';
import { REPO_ROOT } from '../../../local-stack/demo-models';

const REGO = `${REPO_ROOT}/core/rego`;

/** Relative import specifiers of a source file. */
function imports(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)[^'"]*from '([^']+)'/gm)].map((m) => m[1]!);
}

describe('the Rego compiler', () => {
  it('runs its named stages in order', () => {
    assert.deepEqual(
      STAGES.map((s) => s.name),
      ['parseModules', 'buildRuleTree', 'checkRuleKinds', 'resolveAndOrder', 'markUniform', 'checkRecursion'],
    );
  });

  it('reports rule-kind conflicts together with resolution problems, and skips the recursion check after them', () => {
    assert.throws(
      () => compilePolicy({ 'c.rego': 'package p\na := 1\na contains 2\nb if y > 1\nr if r\n' }),
      (e: unknown) => {
        assert.ok(e instanceof RegoCompileError);
        assert.deepEqual(
          e.errors.map((p) => p.code),
          ['rego_type_error', 'rego_unsafe_var_error'],
        );
        return true;
      },
    );
  });

  it('evaluation depends on the IR, never on the compiler', () => {
    assert.ok(imports(`${REGO}/eval.ts`).includes('./ir'));
    assert.ok(!imports(`${REGO}/eval.ts`).includes('./compile'));
  });

  it('stays one flat folder of Web-API-only modules that import nothing outside core/', () => {
    const dirs = readdirSync(REGO, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
    assert.deepEqual(dirs, ['builtins']);
    for (const dir of [REGO, `${REGO}/builtins`]) {
      for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
        for (const spec of imports(`${dir}/${f}`)) {
          assert.doesNotMatch(spec, /^node:/, `${f} imports ${spec}`);
          if (spec.startsWith('.')) assert.ok(!spec.startsWith(dir === REGO ? '../' : '../../'), `${f} imports ${spec} from outside core/rego`);
        }
      }
    }
  });
});
