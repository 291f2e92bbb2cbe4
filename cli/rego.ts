/**
 * Rego CLI over Proofgate's engine, shaped like `opa eval` / `opa test`.
 *   node --import tsx cli/rego.ts eval --data policy.rego [--data data.json] [--input input.json] 'data.pkg.allow'
 *   node --import tsx cli/rego.ts test policies/ [more.rego ...]
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import type { CompiledPolicy, RuleNode } from '../core/rego/ir';
import { RObject, RSet, RegoError, compilePolicy, parseJSON, queryValues } from '../core/rego/index';
import type { EvalContext, Value } from '../core/rego/index';
import { jsonString, jsonText } from '../core/rego/value';

const HELP = `Usage:
  rego eval [options] <query>    evaluate a query (like opa eval), print the result as JSON
  rego test [options] <path...>  run test_* rules in .rego files / directories (like opa test)

Options:
  -d, --data <path>      .rego policy, .json data document, or a directory of them (repeatable)
  -i, --input <file>     JSON input document (eval)
      --now-ns <ns>      clock for time.now_ns (nanoseconds since the epoch; default: none)
      --strict           strict builtin errors (errors abort instead of being undefined)
      --max-steps <n>    evaluation step budget for each query (eval) or test rule (test)
  -v, --verbose          (test) print every test, not only failures
  -h, --help             show this help
`;

type Loaded = { modules: Record<string, string>; data: RObject };

/** Loads .rego modules and .json data documents from files and directories. */
function load(paths: string[]): Loaded {
  const modules: Record<string, string> = {};
  const data = new RObject();
  const visit = (p: string) => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) visit(join(p, name));
      return;
    }
    if (p.endsWith('.rego')) modules[relative(process.cwd(), p) || p] = readFileSync(p, 'utf8');
    else if (p.endsWith('.json')) {
      const doc = parseJSON(readFileSync(p, 'utf8'));
      if (!(doc instanceof RObject)) throw new Error(`${p}: data document must be a JSON object`);
      merge(data, doc);
    }
  };
  paths.forEach(visit);
  return { modules, data };
}

function merge(into: RObject, from: RObject): void {
  for (const [k, v] of from.entries()) {
    const cur = into.get(k);
    if (cur instanceof RObject && v instanceof RObject) merge(cur, v);
    else into.set(k, v);
  }
}

/** Indented JSON that keeps big integers exact. */
function pretty(v: Value, indent = ''): string {
  const next = `${indent}  `;
  if (Array.isArray(v) || v instanceof RSet) {
    const items = Array.isArray(v) ? v : v.values();
    if (!items.length) return '[]';
    return `[\n${items.map((x) => next + pretty(x, next)).join(',\n')}\n${indent}]`;
  }
  if (v instanceof RObject) {
    const es = v.entries();
    if (!es.length) return '{}';
    return (
      '{\n' +
      es.map(([k, x]) => `${next + jsonString(typeof k === 'string' ? k : jsonText(k))}: ${pretty(x, next)}`).join(',\n') +
      '\n' +
      indent +
      '}'
    );
  }
  return jsonText(v);
}

type Options = Record<string, string | string[] | boolean | undefined>;

/** The options `eval` and `test` share: clock, strict builtin errors and step budget. */
function evalOptions(opts: Options): { context: EvalContext; strictBuiltinErrors: boolean; limits?: { maxSteps: number } } {
  const nowNs = opts['now-ns'] as string | undefined;
  return {
    context: nowNs === undefined ? {} : { nowNs: BigInt(nowNs) },
    strictBuiltinErrors: Boolean(opts.strict),
    ...(opts['max-steps'] ? { limits: { maxSteps: Number(opts['max-steps']) } } : {}),
  };
}

/** A query that is a single expression (no assignment or several literals) reports its value. */
function isExpression(q: string): boolean {
  return !/[;\n]|:=|(^|[^=!<>])=($|[^=])/.test(q) && !/^\s*(some|every|not)\b/.test(q);
}

function cmdEval(opts: Options, positionals: string[]): number {
  const q = positionals[0];
  if (!q) {
    process.stderr.write(`rego eval: a query is required\n${HELP}`);
    return 2;
  }
  const { modules, data } = load((opts.data as string[] | undefined) ?? []);
  const policy = compilePolicy(modules);
  // parseJSON keeps integers beyond 2^53 exact, unlike JSON.parse.
  const input = opts.input ? parseJSON(readFileSync(opts.input as string, 'utf8')) : undefined;
  const common = { input, data, ...evalOptions(opts) };
  const result: Value[] = [];
  if (isExpression(q)) {
    for (const row of queryValues(policy, `__value__ = (${q})`, common)) {
      result.push(RObject.fromRecord({ expressions: [RObject.fromRecord({ value: row.get('__value__') ?? null, text: q })] }));
    }
  } else {
    for (const row of queryValues(policy, q, common)) {
      const bindings = new RObject();
      for (const [k, v] of row) bindings.set(k, v);
      result.push(RObject.fromRecord({ bindings }));
    }
  }
  process.stdout.write(`${pretty(result.length ? RObject.fromRecord({ result }) : new RObject())}\n`);
  return 0;
}

/** Every rule node whose name starts with `test_`. */
function findTests(node: RuleNode, out: RuleNode[]): RuleNode[] {
  const name = node.path[node.path.length - 1] ?? '';
  if (node.kind === 'value' && name.startsWith('test_')) out.push(node);
  for (const c of node.children.values()) findTests(c, out);
  return out;
}

function cmdTest(opts: Options, positionals: string[]): number {
  const paths = [...positionals, ...((opts.data as string[] | undefined) ?? [])];
  if (!paths.length) {
    process.stderr.write(`rego test: a path is required\n${HELP}`);
    return 2;
  }
  const { modules, data } = load(paths);
  const policy: CompiledPolicy = compilePolicy(modules);
  const tests = findTests(policy.root, []);
  let pass = 0;
  let fail = 0;
  let errors = 0;
  for (const t of tests) {
    const ref = `data.${t.path.join('.')}`;
    const file = t.rules[0]?.loc.file ?? '';
    const started = performance.now();
    let status: 'PASS' | 'FAIL' | 'ERROR';
    let detail = '';
    try {
      const rows = queryValues(policy, `__value__ = ${ref}`, { data, ...evalOptions(opts) });
      status = rows.length === 1 && rows[0]!.get('__value__') === true ? 'PASS' : 'FAIL';
    } catch (e) {
      status = 'ERROR';
      detail = e instanceof RegoError ? e.fullText() : String(e);
    }
    const ms = (performance.now() - started).toFixed(2);
    if (status === 'PASS') pass++;
    else if (status === 'FAIL') fail++;
    else errors++;
    if (status !== 'PASS' || opts.verbose) process.stdout.write(`${file}: ${ref}: ${status} (${ms}ms)${detail ? `\n  ${detail}` : ''}\n`);
  }
  process.stdout.write(`${'-'.repeat(80)}\n`);
  if (pass) process.stdout.write(`PASS: ${pass}/${tests.length}\n`);
  if (fail) process.stdout.write(`FAIL: ${fail}/${tests.length}\n`);
  if (errors) process.stdout.write(`ERROR: ${errors}/${tests.length}\n`);
  if (!tests.length) process.stdout.write('no tests found\n');
  return fail || errors ? 1 : 0;
}

function parseOptions(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      data: { type: 'string', short: 'd', multiple: true },
      input: { type: 'string', short: 'i' },
      'now-ns': { type: 'string' },
      strict: { type: 'boolean' },
      'max-steps': { type: 'string' },
      verbose: { type: 'boolean', short: 'v' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

function main(argv: string[]): number {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(argv);
  } catch (e) {
    // An unknown or malformed option is a usage error, like a missing command.
    process.stderr.write(`${(e as Error).message}\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [cmd, ...rest] = positionals;
  if (values.help || !cmd) {
    process.stdout.write(HELP);
    return values.help ? 0 : 2;
  }
  try {
    if (cmd === 'eval') return cmdEval(values, rest);
    if (cmd === 'test') return cmdTest(values, rest);
  } catch (e) {
    process.stderr.write(`${e instanceof RegoError ? e.message : String((e as Error).message ?? e)}\n`);
    return 1;
  }
  process.stderr.write(`unknown command ${cmd}\n${HELP}`);
  return 2;
}

process.exitCode = main(process.argv.slice(2));
