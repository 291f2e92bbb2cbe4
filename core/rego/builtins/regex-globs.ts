/**
 * regex.globs_match: whether two "regex globs" (literals, `.`, `[...]` classes, `*` `+` `?`)
 * match at least one common string, decided on the product of their token automata.
 */
import { builtinError } from '../errors';
import { str } from './args';
import { def } from './types';
import type { BuiltinDef } from './types';

const NAME = 'regex.globs_match';

/** One position of a glob: a character test and its quantifier. */
type Token = { test: (c: string) => boolean; sample: string[]; quant: '' | '*' | '+' | '?' };

function invalid(input: string, pos: number, msg: string): never {
  throw builtinError(NAME, `input:${input}, pos:${pos}, ${msg}: the input provided is invalid`);
}

/** Parses a regex glob into tokens. */
function tokenize(input: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    let tok: Token;
    if (c === '.') {
      tok = { test: () => true, sample: [], quant: '' };
      i++;
    } else if (c === '[') {
      const end = input.indexOf(']', i + 1);
      if (end < 0) invalid(input, input.length, "set-open '[' with no closing ']'");
      let body = input.slice(i + 1, end);
      const neg = body.startsWith('^');
      if (neg) body = body.slice(1);
      const ranges: [string, string][] = [];
      for (let j = 0; j < body.length; j++) {
        const a = body[j] === '\\' ? body[++j]! : body[j]!;
        if (body[j + 1] === '-' && j + 2 < body.length) {
          ranges.push([a, body[j + 2]!]);
          j += 2;
        } else ranges.push([a, a]);
      }
      const inSet = (ch: string) => ranges.some(([lo, hi]) => ch >= lo && ch <= hi);
      tok = { test: neg ? (ch) => !inSet(ch) : inSet, sample: ranges.flat(), quant: '' };
      i = end + 1;
    } else if (c === ']') {
      return invalid(input, i + 1, "set-close ']' with no preceding '['");
    } else if (c === '*' || c === '+' || c === '?') {
      return invalid(input, i + 1, `quantifier '${c}' with nothing to repeat`);
    } else {
      const lit = c === '\\' ? (input[++i] ?? '') : c;
      tok = { test: (ch) => ch === lit, sample: [lit], quant: '' };
      i++;
    }
    const q = input[i];
    if (q === '*' || q === '+' || q === '?') {
      tok.quant = q;
      i++;
    }
    out.push(tok);
  }
  return out;
}

/** Whether two tokens accept a common character. */
function overlap(a: Token, b: Token): boolean {
  const candidates = [...a.sample, ...b.sample];
  for (let code = 32; code < 0x250; code++) candidates.push(String.fromCharCode(code));
  return candidates.some((c) => a.test(c) && b.test(c));
}

/** Search over (position in a, position in b) pairs for a common accepted string. */
function intersects(a: Token[], b: Token[]): boolean {
  const seen = new Set<string>();
  const stack: [number, number][] = [[0, 0]];
  while (stack.length) {
    const [i, j] = stack.pop()!;
    const key = `${i},${j}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (i === a.length && j === b.length) return true;
    const ta = a[i];
    const tb = b[j];
    // Optional tokens may be skipped.
    if (ta && (ta.quant === '*' || ta.quant === '?')) stack.push([i + 1, j]);
    if (tb && (tb.quant === '*' || tb.quant === '?')) stack.push([i, j + 1]);
    if (ta && tb && overlap(ta, tb)) {
      // Consume one character on both sides; repeating tokens may stay (as `*` after a `+`).
      const ni = [i + 1];
      const nj = [j + 1];
      if (ta.quant === '*' || ta.quant === '+') ni.push(i);
      if (tb.quant === '*' || tb.quant === '+') nj.push(j);
      for (const x of ni) for (const y of nj) if (x !== i || y !== j) stack.push([x, y]);
    }
  }
  return false;
}

/**
 * Step cost of the search: it visits at most one state per pair of token positions, and each
 * visit tests a few hundred characters for overlap (measured about 6 µs, some 30 steps).
 */
function searchCost(a: Token[], b: Token[]): number {
  return (a.length + 1) * (b.length + 1) * 32;
}

/** Registry entries of this family. */
export const regexGlobsBuiltins: BuiltinDef[] = [
  def(NAME, 2, (args, ctx) => {
    const [a, b] = [tokenize(str(NAME, args, 0)), tokenize(str(NAME, args, 1))];
    ctx.charge(searchCost(a, b));
    return intersects(a, b);
  }),
];
