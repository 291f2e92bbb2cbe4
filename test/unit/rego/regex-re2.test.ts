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

/** Milliseconds `f` takes. */
function timed(f: () => void): number {
  const start = performance.now();
  f();
  return performance.now() - start;
}

const strict = { strictBuiltinErrors: true };

describe('regex.* and glob.* in linear time', () => {
  it('matches catastrophic-backtracking patterns on long inputs fast', () => {
    const s = `${'a'.repeat(100_000)}!`;
    const ms = timed(() => {
      assert.equal(value('regex.match(`(a+)+$`, input.s)', { input: { s } }), false);
      assert.deepEqual(value('regex.find_n(`(x+x+)+y`, input.s, -1)', { input: { s: 'x'.repeat(20_000) } }), []);
      assert.equal(value('regex.replace(input.s, `(a|aa)+$`, "")', { input: { s } }), s);
      assert.equal(value('regex.template_match("id:{(a+)+$}", input.s, "{", "}")', { input: { s: `id:${s}` } }), false);
      assert.equal(value('glob.match("*a*a*a*a*a*a*a*a*b", [], input.s)', { input: { s } }), false);
    });
    assert.ok(ms < 3000, `took ${ms} ms`);
  });
});

describe('RE2 syntax and semantics, as OPA (Go) has them', () => {
  it('rejects lookarounds and backreferences: undefined, or the builtin error in strict mode', () => {
    for (const p of ['(?=a)', '(?!a)', '(?<=a)b', '(a)\\1']) {
      assert.equal(value(`regex.is_valid(${JSON.stringify(p)})`), false, p);
      assert.equal(value(`regex.match(${JSON.stringify(p)}, "ab")`), undefined, p);
    }
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
    const s = Array.from({ length: 200_000 }, () => (((x = (x * 1103515245 + 12345) & 0x7fffffff) >> 16) & 1 ? 'a' : 'b')).join('');
    const r = compileRegex('regex.match', 'a[ab]{16}[cd]', ctx);
    assert.equal(testRegex(r, s, ctx), false);
    const dfa = r.re.re2().lazyDFA as { stateBudget: number; memBudget: number };
    assert.ok(dfa.stateBudget - dfa.memBudget <= 128 * 1024, `DFA holds ${dfa.stateBudget - dfa.memBudget} bytes`);
    assert.equal(testRegex(r, `${s + 'a'.repeat(16)}c`, ctx), true);
  });
});
