/**
 * RE2 for the regex.* and glob.* builtins: Go's regexp syntax and linear-time matching (re2js, a
 * port of Go's regexp), a bounded cache of compiled patterns, and the step cost of each use.
 */
import { RE2JS, RE2JSException } from 're2js';
import { BuiltinError, builtinError } from '../errors';
import type { BuiltinContext } from './types';

/** A compiled pattern and its program size (instructions), the per-character factor of matching cost. */
export type Regex = { re: RE2JS; prog: number };

/** A cache entry: the compiled pattern or its compile error, with the compile cost charged on every use. */
type Entry = { regex: Regex; cost: number } | { error: string; cost: number };

/**
 * The cache lives as long as the isolate, so it is bounded in memory, not only in entries: a
 * compiled program costs some 300 bytes per instruction (Go's limits allow about 2,000 per
 * pattern), and each pattern's lazy DFA grows with the states a scan visits (up to 8 MB).
 */
const MAX_ENTRIES = 64;
const MAX_INSTRUCTIONS = 32_768;
/** A DFA over this many (estimated) bytes is emptied after the call that grew it. */
const MAX_DFA_BYTES = 128 * 1024;
const cache = new Map<string, Entry>();
let cachedInstructions = 0;

/**
 * Matching cost in steps: one per input character, plus one per 8 program instructions per
 * character, since the NFA may step every instruction on every character. Measured: about 25–45 ns
 * per character·instruction in the NFA against about 200 ns per evaluation step.
 */
function scanCost(prog: number, length: number): number {
  return 1 + Math.ceil((length * (8 + prog)) / 8);
}

/** Compiles a Go (RE2) pattern for builtin `name`; an invalid pattern raises the builtin's error. */
export function compileRegex(name: string, pattern: string, ctx: BuiltinContext): Regex {
  return compileSource(name, `re:${pattern}`, ctx, () => pattern);
}

/**
 * Compiles RE2 source built on demand (globs and templates translate to RE2), cached under `key`.
 * `source` returns the pattern, or `{ error }` for an input it rejects before RE2 sees it.
 * The compile cost is charged on hits too, so the step count never depends on the cache.
 */
export function compileSource(name: string, key: string, ctx: BuiltinContext, source: () => string | { error: string }): Regex {
  let entry = cache.get(key);
  if (entry) {
    // Re-inserting moves the key to the end of the Map's order: least recently used is first.
    cache.delete(key);
    cache.set(key, entry);
  } else {
    entry = build(source());
    const size = instructions(entry);
    for (const [k, old] of cache) {
      if (cache.size < MAX_ENTRIES && cachedInstructions + size <= MAX_INSTRUCTIONS) break;
      cache.delete(k);
      cachedInstructions -= instructions(old);
    }
    cache.set(key, entry);
    cachedInstructions += size;
  }
  ctx.charge(entry.cost);
  if ('error' in entry) throw builtinError(name, entry.error);
  return entry.regex;
}

function instructions(e: Entry): number {
  return 'regex' in e ? e.regex.prog : 0;
}

/** Empties a pattern's DFA once a scan has grown it past the bound (it refills on demand; results do not change). */
function trimDfa(r: Regex): void {
  const dfa = r.re.re2().lazyDFA as { stateBudget: number; memBudget: number; clearCache(): void } | null;
  if (dfa && dfa.stateBudget - dfa.memBudget > MAX_DFA_BYTES) dfa.clearCache();
}

function build(src: string | { error: string }): Entry {
  if (typeof src !== 'string') return { error: src.error, cost: 1 };
  try {
    const re = RE2JS.compile(src);
    const prog = re.programSize();
    return { regex: { re, prog }, cost: 1 + src.length + prog };
  } catch (e) {
    if (e instanceof RE2JSException) return { error: e.message, cost: 1 + src.length };
    throw e;
  }
}

/** The compile error of a pattern, or undefined when it is valid; uncached (callers cache what they build). */
export function regexError(pattern: string): string | undefined {
  const e = build(pattern);
  return 'error' in e ? e.error : undefined;
}

/** Whether a Go pattern is valid (regex.is_valid), without raising. */
export function isValidRegex(pattern: string, ctx: BuiltinContext): boolean {
  try {
    compileRegex('regex.is_valid', pattern, ctx);
    return true;
  } catch (e) {
    if (e instanceof BuiltinError) return false;
    throw e;
  }
}

/** Whether the pattern matches anywhere in `s` (Go's MatchString); charges the scan. */
export function test(r: Regex, s: string, ctx: BuiltinContext): boolean {
  ctx.charge(scanCost(r.prog, s.length));
  const matched = r.re.test(s);
  trimDfa(r);
  return matched;
}

/**
 * Up to `n` (all when negative) successive non-overlapping matches, as Go's
 * FindAllStringSubmatchIndex: per match, start/end pairs of every group (-1 when unmatched).
 */
export function findAll(r: Regex, s: string, n: number, ctx: BuiltinContext): number[][] {
  ctx.charge(scanCost(r.prog, s.length));
  if (n === 0) return [];
  const matches = (r.re.re2().findAllSubmatchIndex(s, n) as number[][] | null) ?? [];
  trimDfa(r);
  return matches;
}

/** Capture group names → group indices (for `$name` in replacement templates). */
export function groupNames(r: Regex): Record<string, number> {
  return r.re.namedGroups();
}

/** Escapes every RE2 metacharacter of a literal (Go's regexp.QuoteMeta). */
export function quoteMeta(s: string): string {
  return RE2JS.quote(s);
}
