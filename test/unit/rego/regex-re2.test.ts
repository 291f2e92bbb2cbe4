import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RegoEvalError, RegoLimitError, compilePolicy, query } from '../../../core/rego/index';
import type { EvaluateOptions } from '../../../core/rego/index';
import { compileRegex, test as testRegex } from '../../../core/rego/builtins/re2';

// regex.* and glob.* run on RE2 (re2js, a port of Go's regexp): Go's syntax as OPA has it, linear
// time whatever the pattern, and a step charge proportional to the work.

/** Evaluates `x := <expr>` and returns x (undefined when undefined). */
function value(expr: string, opts: EvaluateOptions = {}): unknown {
  const rows = query(compilePolicy({}), `x := ${expr}`, opts);
  return rows.length ? rows[0]!.x : undefined;
}

const strict = { strictBuiltinErrors: true };

describe('regex.* and glob.* in linear time', () => {
  // On these inputs a backtracking engine would not return in any useful time, so finishing at all
  // is the check; no wall-clock bound here (it would flake on a loaded machine).
  const s = `${'a'.repeat(100_000)}!`;
  const cases: [string, string, unknown, unknown][] = [
    ['regex.match', 'regex.match(`(a+)+$`, input.s)', s, false],
    ['regex.find_n', 'regex.find_n(`(x+x+)+y`, input.s, -1)', 'x'.repeat(20_000), []],
    ['regex.replace', 'regex.replace(input.s, `(a|aa)+$`, "")', s, s],
    ['regex.template_match', 'regex.template_match("id:{(a+)+$}", input.s, "{", "}")', `id:${s}`, false],
    ['glob.match', 'glob.match("*a*a*a*a*a*a*a*a*b", [], input.s)', s, false],
  ];
  for (const [name, expr, input, expected] of cases) {
    it(`${name} answers a catastrophic-backtracking pattern on a long input`, () => {
      assert.deepEqual(value(expr, { input: { s: input } }), expected);
    });
  }
});

describe('RE2 syntax and semantics, as OPA (Go) has them', () => {
  for (const p of ['(?=a)', '(?!a)', '(?<=a)b', '(a)\\1']) {
    it(`rejects ${p}: not valid, and undefined in a match`, () => {
      assert.equal(value(`regex.is_valid(${JSON.stringify(p)})`), false);
      assert.equal(value(`regex.match(${JSON.stringify(p)}, "ab")`), undefined);
    });
  }

  it('rejects a lookahead with the builtin error in strict mode', () => {
    assert.throws(
      () => value('regex.match("(?=a)", "a")', strict),
      (e: unknown) =>
        e instanceof RegoEvalError &&
        e.code === 'eval_builtin_error' &&
        e.message === 'regex.match: error parsing regexp: invalid or unsupported Perl syntax: `(?=`',
    );
  });

  it('accepts Go-only syntax: (?U), \\z, \\Q..\\E, POSIX classes, Unicode classes, (?P<name>)', () => {
    assert.deepEqual(value('regex.find_n(`(?U)a+`, "aaa", -1)'), ['a', 'a', 'a']);
    assert.equal(value('regex.match(`^ab\\z`, "ab")'), true);
    assert.equal(value('regex.match(`^\\Q*.+\\E$`, "*.+")'), true);
    assert.equal(value('regex.match(`^[[:alpha:]]+$`, "abc")'), true);
    assert.equal(value('regex.match(`^\\pL+$`, "héllo")'), true);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: `${2}` is Go's regexp replacement syntax under test, not a JS template.
    assert.equal(value('regex.replace("ab", `(?P<first>a)(b)`, "${2}$first")'), 'ba');
  });

  it('uses Go character semantics where JavaScript differs', () => {
    // Go's `.` excludes only \n; JavaScript's also excludes \r, \u2028 and \u2029.
    assert.equal(value('regex.match(`^.$`, input.s)', { input: { s: '\r' } }), true);
    // Go's \s is ASCII white space; JavaScript's includes Unicode spaces.
    assert.equal(value('regex.match(`^\\s$`, input.s)', { input: { s: '\u00a0' } }), false);
  });

  it('splits, finds and replaces as Go does', () => {
    assert.deepEqual(value('regex.split("$", "ab")'), ['ab']);
    assert.deepEqual(value('regex.split("x*", "axbc")'), ['a', 'b', 'c']);
    assert.deepEqual(value('regex.find_n("a*", "baaab", -1)'), ['', 'aaa', '']);
    assert.deepEqual(value('regex.find_all_string_submatch_n("(a)|(b)", "ab", -1)'), [
      ['a', 'a', ''],
      ['b', '', 'b'],
    ]);
    assert.equal(value('regex.replace("baaac", "a*", "-")'), '-b-c-');
    // `$01` names a group "01" (leading zero), `$2x` a group "2x"; neither exists. A bare `$` stays.
    assert.equal(value('regex.replace("abc", "(a)(b)", "[$1|$01|$2x|$$|$]")'), '[a|||$|$]c');
  });

  it('checks regex.template_match templates and delimiters as OPA does', () => {
    assert.equal(value('regex.template_match("urn:foo:{.*}", "urn:foo:bar:baz", "{", "}")'), true);
    assert.throws(
      () => value('regex.template_match("urn:}{.*}", "urn:a", "{", "}")', strict),
      /regex\.template_match: unbalanced braces in "urn:}\{\.\*}"/,
    );
    assert.throws(
      () => value('regex.template_match("urn:{[}", "urn:a", "{", "}")', strict),
      /regex\.template_match: error parsing regexp: missing closing \]/,
    );
    assert.throws(
      () => value('regex.template_match("urn:{.*}", "urn:a", "{{", "}")', strict),
      /start delimiter has to be exactly one character long but is 2 long/,
    );
  });

  it('reads a glob class such as [[:alpha:]] literally, as gobwas/glob does', () => {
    assert.equal(value('glob.match("[[:alpha:]]", [], "]")'), false);
    assert.equal(value('glob.match("[[:alpha:]]", [], ":]")'), true);
  });
});

describe('regex step charges', () => {
  it('trips the step limit on a huge input, strict or not', () => {
    const input = { s: 'A'.repeat(2_000_000) };
    for (const opts of [{}, strict]) {
      assert.throws(
        () => value('regex.match(`[a-z]+`, input.s)', { ...opts, input }),
        (e: unknown) => e instanceof RegoLimitError && e.code === 'eval_limit_exceeded',
      );
    }
  });

  it('charges in proportion to the input', () => {
    const input = { s: 'A'.repeat(100_000) };
    assert.equal(value('regex.match(`[a-z]+`, input.s)', { input }), false);
    assert.throws(() => value('regex.match(`[a-z]+`, input.s)', { input, limits: { maxSteps: 100_000 } }), RegoLimitError);
    assert.equal(value('regex.match(`[a-z]+`, input.s)', { input: { s: 'A'.repeat(10_000) }, limits: { maxSteps: 100_000 } }), false);
  });

  it('charges a replacement by the output it builds', () => {
    const input = { s: 'a'.repeat(10_000), t: 'x'.repeat(1_000) };
    assert.throws(() => value('regex.replace(input.s, "a", input.t)', { input }), RegoLimitError);
    assert.equal((value('regex.replace(input.s, "a", "b")', { input }) as string).length, 10_000);
  });

  it('charges the same whether a pattern is cached or not', () => {
    const run = (pattern: string, maxSteps: number): boolean => {
      try {
        value(`regex.match("${pattern}", "abcdefghijklmnopqrstuvwxyz")`, { limits: { maxSteps } });
        return true;
      } catch (e) {
        if (e instanceof RegoLimitError) return false;
        throw e;
      }
    };
    // The smallest budget that suffices, found with a pattern that is cached after the first probe.
    let lo = 1;
    let hi = 100_000;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (run('[a-y]+0', mid)) hi = mid;
      else lo = mid + 1;
    }
    // Patterns of the same length and program, compiled for the first time, need exactly as much.
    assert.equal(run('[a-y]+1', lo), true);
    assert.equal(run('[a-y]+2', lo - 1), false);
    assert.equal(run('[a-y]+1', lo - 1), false);
  });
});

describe('the compiled-pattern cache', () => {
  it('does not keep a large DFA alive after the call that grew it', () => {
    const ctx = { context: {}, charge: () => {} };
    // `a[ab]{16}[cd]` over random a/b text visits tens of thousands of DFA states.
    let x = 1;
    const s = Array.from({ length: 200_000 }, () => {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      return (x >> 16) & 1 ? 'a' : 'b';
    }).join('');
    const r = compileRegex('regex.match', 'a[ab]{16}[cd]', ctx);
    assert.equal(testRegex(r, s, ctx), false);
    const dfa = r.re.re2().lazyDFA as { stateBudget: number; memBudget: number };
    assert.ok(dfa.stateBudget - dfa.memBudget <= 128 * 1024, `DFA holds ${dfa.stateBudget - dfa.memBudget} bytes`);
    assert.equal(testRegex(r, `${s + 'a'.repeat(16)}c`, ctx), true);
  });
});
