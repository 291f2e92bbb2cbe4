import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RegoCompileError, RegoEvalError, RegoLimitError, compilePolicy, evaluate, query, toValue } from '../../../core/rego/index';

const ADMISSION = `
package gateway.admission

import rego.v1

default allow := false

allow if {
  count(deny) == 0
  input.caller.verified
}

deny contains msg if {
  not input.model in data.params.allowed_models
  msg := sprintf("model %s is not allowed", [input.model])
}

deny contains msg if {
  input.price > data.params.max_price
  msg := sprintf("price %v exceeds the limit %v", [input.price, data.params.max_price])
}

deny contains "caller is blocked" if {
  some blocked in data.params.blocked
  input.caller.address == blocked
}

reasons := sort([m | some m in deny])
`;

const PARAMS = { params: { allowed_models: ['resnet50', 'whisper-small'], max_price: 1000, blocked: ['0xbad'] } };

describe('compilePolicy errors', () => {
  it('reports parse errors as file:row:col: rego_parse_error', () => {
    assert.throws(
      () => compilePolicy({ 'p.rego': 'package p\n\nallow if {\n  x := \n}\n' }),
      (e: unknown) => {
        assert.ok(e instanceof RegoCompileError);
        assert.equal(e.code, 'rego_parse_error');
        assert.match(e.message, /^p\.rego:5:1: rego_parse_error: unexpected } token$/);
        assert.deepEqual(e.location, { file: 'p.rego', row: 5, col: 1 });
        return true;
      },
    );
  });

  it('requires `if` before a rule body (Rego v1)', () => {
    assert.throws(
      () => compilePolicy({ 'v0.rego': 'package p\nallow { true }\n' }),
      /v0\.rego:2:7: rego_parse_error: `if` keyword is required before rule body/,
    );
  });

  it('reports unsafe variables with their position', () => {
    assert.throws(
      () => compilePolicy({ 'u.rego': 'package p\n\nallow if {\n  y > 1\n}\n' }),
      (e: unknown) =>
        e instanceof RegoCompileError && e.code === 'rego_unsafe_var_error' && /u\.rego:4:3: rego_unsafe_var_error: var y is unsafe/.test(e.message),
    );
  });

  it('reports unknown functions as rego_type_error', () => {
    assert.throws(
      () => compilePolicy({ 'f.rego': 'package p\nx := no_such_fn(1)\n' }),
      /f\.rego:2:6: rego_type_error: undefined function no_such_fn/,
    );
  });

  it('checks call arity', () => {
    assert.throws(
      () => compilePolicy({ 'a.rego': 'package p\nx := count(1, 2)\n' }),
      /a\.rego:2:6: rego_type_error: count: arity mismatch: have 2 arguments, want 1/,
    );
    assert.doesNotThrow(() => compilePolicy({ 'b.rego': 'package p\nx if count([1], n)\n' }));
  });

  it('rejects recursive rules', () => {
    assert.throws(
      () => compilePolicy({ 'r.rego': 'package p\na if b\nb if a\n' }),
      (e: unknown) => e instanceof RegoCompileError && e.code === 'rego_recursion_error' && /data\.p\.a -> data\.p\.b -> data\.p\.a/.test(e.message),
    );
  });
});

describe('admission policy', () => {
  const policy = compilePolicy({ 'admission.rego': ADMISSION });

  it('allows a verified caller with an allowed model and price', () => {
    const input = { caller: { address: '0xabc', verified: true }, model: 'resnet50', price: 10 };
    assert.equal(evaluate(policy, 'data.gateway.admission.allow', { input, data: PARAMS }), true);
    assert.deepEqual(evaluate(policy, 'gateway/admission/reasons', { input, data: PARAMS }), []);
  });

  it('denies with every reason, sorted', () => {
    const input = { caller: { address: '0xbad', verified: true }, model: 'gpt-x', price: 5000 };
    assert.equal(evaluate(policy, 'data.gateway.admission.allow', { input, data: PARAMS }), false);
    assert.deepEqual(evaluate(policy, 'data.gateway.admission.reasons', { input, data: PARAMS }), [
      'caller is blocked',
      'model gpt-x is not allowed',
      'price 5000 exceeds the limit 1000',
    ]);
  });

  it('returns undefined for undefined documents and reuses prepared data', () => {
    const data = toValue(PARAMS);
    assert.equal(evaluate(policy, 'data.gateway.admission.nothing', { input: {}, data }), undefined);
    assert.equal(
      evaluate(policy, 'data.gateway.admission.allow', { input: { caller: { verified: false }, model: 'resnet50', price: 1 }, data }),
      false,
    );
  });

  it('runs queries with several bindings', () => {
    const rows = query(policy, 'x := data.params.max_price; y := x * 2', { data: PARAMS });
    assert.deepEqual(rows, [{ x: 1000, y: 2000 }]);
  });
});

describe('evaluation context', () => {
  const policy = compilePolicy({ 't.rego': 'package t\nnow := time.now_ns()\nyear := time.date(time.now_ns())[0]\n' });

  it('takes time.now_ns from the context', () => {
    const nowNs = 1_705_257_221_593_912_000n;
    assert.equal(evaluate(policy, 'data.t.now', { context: { nowNs } }), nowNs);
    assert.equal(evaluate(policy, 'data.t.year', { context: { nowNs } }), 2024);
  });

  it('has no clock without a context: undefined, or an error in strict mode', () => {
    assert.equal(evaluate(policy, 'data.t.now'), undefined);
    assert.throws(
      () => evaluate(policy, 'data.t.now', { strictBuiltinErrors: true }),
      (e: unknown) => e instanceof RegoEvalError && e.code === 'eval_builtin_error' && /time\.now_ns/.test(e.message),
    );
  });

  it('lets `with` replace the clock', () => {
    const p = compilePolicy({ 'w.rego': 'package w\nnow := time.now_ns()\nmocked := x if {\n  x := now with time.now_ns as 42\n}\n' });
    assert.equal(evaluate(p, 'data.w.mocked'), 42);
  });
});

describe('bounded evaluation', () => {
  it('stops runaway iteration with eval_limit_exceeded', () => {
    const p = compilePolicy({
      'b.rego': 'package b\nn := count([x | some x in numbers.range(1, 100000); some y in numbers.range(1, 100000); x == y])\n',
    });
    assert.throws(
      () => evaluate(p, 'data.b.n', { limits: { maxSteps: 50_000 } }),
      (e: unknown) => e instanceof RegoLimitError && e.code === 'eval_limit_exceeded',
    );
  });

  it('enforces the depth limit', () => {
    const rules = Array.from({ length: 30 }, (_, i) => `r${i} := r${i + 1} + 1`).join('\n');
    const p = compilePolicy({ 'd.rego': `package d\n${rules}\nr30 := 0\n` });
    assert.equal(evaluate(p, 'data.d.r0'), 30);
    assert.throws(
      () => evaluate(p, 'data.d.r0', { limits: { maxDepth: 10 } }),
      (e: unknown) => e instanceof RegoLimitError,
    );
  });
});

describe('semantics', () => {
  it('reports conflicting complete rules', () => {
    const p = compilePolicy({ 'c.rego': 'package c\np := 1 if input.a\np := 2 if input.b\n' });
    assert.equal(evaluate(p, 'data.c.p', { input: { a: true } }), 1);
    assert.throws(
      () => evaluate(p, 'data.c.p', { input: { a: true, b: true } }),
      (e: unknown) =>
        e instanceof RegoEvalError && e.code === 'eval_conflict_error' && e.message === 'complete rules must not produce multiple outputs',
    );
  });

  it('keeps integers exact beyond 2^53', () => {
    const p = compilePolicy({ 'n.rego': 'package n\nbig := 18446744073709551617 + 1\ns := sprintf("%v", [big])\n' });
    assert.equal(evaluate(p, 'data.n.big'), 18446744073709551618n);
    assert.equal(evaluate(p, 'data.n.s'), '18446744073709551618');
  });

  it('makes builtin errors undefined unless strict', () => {
    const p = compilePolicy({ 'e.rego': 'package e\nx := 1 / 0\n' });
    assert.equal(evaluate(p, 'data.e.x'), undefined);
    assert.throws(() => evaluate(p, 'data.e.x', { strictBuiltinErrors: true }), /div: divide by zero/);
  });

  it('supports every, some-in, comprehensions, else and functions', () => {
    const p = compilePolicy({
      'm.rego': `package m
f(x) := "big" if x > 10
else := "small"
all_pos if every v in input.xs { v > 0 }
pairs := {k: v | some k, v in input.obj}
labels := [f(x) | some x in input.xs]
`,
    });
    const input = { xs: [1, 20], obj: { a: 1 } };
    assert.equal(evaluate(p, 'data.m.all_pos', { input }), true);
    assert.deepEqual(evaluate(p, 'data.m.pairs', { input }), { a: 1 });
    assert.deepEqual(evaluate(p, 'data.m.labels', { input }), ['small', 'big']);
  });
});
