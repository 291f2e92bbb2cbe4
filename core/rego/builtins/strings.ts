/** String builtins, with Go semantics (rune indexes, strings.Trim cutsets, fmt verbs for sprintf). */
import { builtinError, typeError } from '../errors';
import { isInt, toBig } from '../number';
import { RObject, formatNumber, termString, typeName } from '../value';
import type { Value } from '../value';
import { arrayOrSet, badType, int, num, str, stringsOf } from './args';
import { def } from './types';
import type { BuiltinDef } from './types';

/** Splits into Unicode code points (Go runes). */
function runes(s: string): string[] {
  return Array.from(s);
}

/** Go's strings.Split (an empty separator splits into runes). */
export function goSplit(s: string, sep: string): string[] {
  return sep === '' ? runes(s) : s.split(sep);
}

function trimLeftSet(s: string, cut: string): string {
  const set = new Set(runes(cut));
  const r = runes(s);
  let i = 0;
  while (i < r.length && set.has(r[i]!)) i++;
  return r.slice(i).join('');
}

function trimRightSet(s: string, cut: string): string {
  const set = new Set(runes(cut));
  const r = runes(s);
  let j = r.length;
  while (j > 0 && set.has(r[j - 1]!)) j--;
  return r.slice(0, j).join('');
}

/** Unicode white space as Go's unicode.IsSpace sees it. */
const SPACE =
  /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;

function indexOfRunes(s: string, sub: string, from = 0): number {
  const i = s.indexOf(sub, from);
  return i < 0 ? -1 : runes(s.slice(0, i)).length;
}

function formatInt(n: bigint, base: number): string {
  return n.toString(base);
}

// ---- sprintf (Go fmt subset) ----

type FmtArg = { kind: 'int'; v: bigint } | { kind: 'float'; v: number } | { kind: 'string'; v: string };

function fmtArg(v: Value): FmtArg {
  if (typeof v === 'string') return { kind: 'string', v };
  if (typeof v === 'number' || typeof v === 'bigint') {
    if (isInt(v)) return { kind: 'int', v: toBig(v) };
    return { kind: 'float', v: v as number };
  }
  return { kind: 'string', v: termString(v) };
}

function pad(s: string, width: number | undefined, left: boolean, zero: boolean): string {
  if (width === undefined || s.length >= width) return s;
  if (left) return s + ' '.repeat(width - s.length);
  if (zero) {
    const sign = s.startsWith('-') || s.startsWith('+') ? s[0]! : '';
    const body = sign ? s.slice(1) : s;
    return sign + '0'.repeat(width - s.length) + body;
  }
  return ' '.repeat(width - s.length) + s;
}

function goExp(x: number, prec: number, upper: boolean): string {
  let s = x.toExponential(prec);
  s = s.replace(/e([+-])(\d)$/, 'e$10$2');
  return upper ? s.toUpperCase() : s;
}

function goG(x: number, prec: number | undefined): string {
  if (prec === undefined) return formatNumber(x);
  const p = prec === 0 ? 1 : prec;
  const exp = x === 0 ? 0 : Math.floor(Math.log10(Math.abs(x)));
  if (exp < -4 || exp >= p) return goExp(x, p - 1, false).replace(/\.?0+e/, 'e');
  return String(Number(x.toPrecision(p)));
}

function quote(s: string): string {
  return JSON.stringify(s);
}

function badVerb(verb: string, a: FmtArg): string {
  const t = a.kind === 'int' ? 'int' : a.kind === 'float' ? 'float64' : 'string';
  const v = a.kind === 'float' ? formatNumber(a.v) : String(a.v);
  return `%!${verb}(${t}=${v})`;
}

/** Go-style sprintf over Rego values. */
export function sprintf(format: string, values: Value[]): string {
  const args = values.map(fmtArg);
  let out = '';
  let ai = 0;
  const re = /%([-+# 0]*)(\d+|\*)?(?:\.(\d+|\*)?)?([a-zA-Z%])/g;
  let last = 0;
  for (let m = re.exec(format); m !== null; m = re.exec(format)) {
    out += format.slice(last, m.index);
    last = re.lastIndex;
    const [, flags = '', w, precStr, verb] = m as unknown as [string, string, string | undefined, string | undefined, string];
    if (verb === '%') {
      out += '%';
      continue;
    }
    const width = w === undefined ? undefined : Number(w);
    const prec = precStr === undefined ? (m[0].includes('.') ? 0 : undefined) : Number(precStr);
    const left = flags.includes('-');
    const zero = flags.includes('0') && !left;
    const plus = flags.includes('+');
    const a = args[ai++];
    if (!a) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    let s: string;
    switch (verb) {
      case 'v':
      case 's':
        s = a.kind === 'string' ? a.v : a.kind === 'int' ? a.v.toString() : formatNumber(a.v);
        if (verb === 's' && a.kind !== 'string' && a.kind === 'float') s = badVerb('s', a);
        if (prec !== undefined && a.kind === 'string') s = runes(s).slice(0, prec).join('');
        break;
      case 'd':
        s = a.kind === 'int' ? (plus && a.v >= 0n ? '+' : '') + a.v.toString() : badVerb('d', a);
        break;
      case 'f':
      case 'F': {
        const x = a.kind === 'float' ? a.v : a.kind === 'int' ? Number(a.v) : NaN;
        s = a.kind === 'string' ? badVerb(verb, a) : (plus && x >= 0 ? '+' : '') + x.toFixed(prec ?? 6);
        break;
      }
      case 'e':
      case 'E': {
        const x = a.kind === 'float' ? a.v : a.kind === 'int' ? Number(a.v) : NaN;
        s = a.kind === 'string' ? badVerb(verb, a) : goExp(x, prec ?? 6, verb === 'E');
        break;
      }
      case 'g':
      case 'G': {
        const x = a.kind === 'float' ? a.v : a.kind === 'int' ? Number(a.v) : NaN;
        s = a.kind === 'string' ? badVerb(verb, a) : goG(x, prec);
        if (verb === 'G') s = s.toUpperCase();
        break;
      }
      case 'x':
      case 'X': {
        if (a.kind === 'int') s = a.v < 0n ? `-${(-a.v).toString(16)}` : a.v.toString(16);
        else if (a.kind === 'string') s = Array.from(new TextEncoder().encode(a.v), (b) => b.toString(16).padStart(2, '0')).join('');
        else s = badVerb(verb, a);
        if (verb === 'X') s = s.toUpperCase();
        break;
      }
      case 'o':
        s = a.kind === 'int' ? a.v.toString(8) : badVerb('o', a);
        break;
      case 'b':
        s = a.kind === 'int' ? a.v.toString(2) : badVerb('b', a);
        break;
      case 'q':
        s = a.kind === 'string' ? quote(a.v) : a.kind === 'int' ? `'${String.fromCodePoint(Number(a.v))}'` : badVerb('q', a);
        break;
      case 't':
        s = badVerb('t', a);
        break;
      default:
        s = badVerb(verb, a);
    }
    out += pad(s, width, left, zero && verb !== 's' && verb !== 'v' && verb !== 'q');
  }
  out += format.slice(last);
  if (ai < args.length) {
    out +=
      '%!(EXTRA ' +
      args
        .slice(ai)
        .map((a) => `${a.kind === 'int' ? 'int' : a.kind === 'float' ? 'float64' : 'string'}=${a.kind === 'float' ? formatNumber(a.v) : a.v}`)
        .join(', ') +
      ')';
  }
  return out;
}

/** strings.replace_n: Go's strings.NewReplacer over sorted keys (earlier keys win at a position). */
function replaceN(patterns: RObject, s: string): string {
  const pairs: [string, string][] = [];
  for (const [k, v] of patterns.entries()) {
    if (typeof k !== 'string') throw typeError('strings.replace_n', 'operand 1 non-string key found in pattern object');
    if (typeof v !== 'string') throw typeError('strings.replace_n', 'operand 1 non-string value found in pattern object');
    pairs.push([k, v]);
  }
  let out = '';
  let i = 0;
  while (i <= s.length) {
    const hit = pairs.find(([k]) => k !== '' && s.startsWith(k, i));
    if (hit) {
      out += hit[1];
      i += hit[0].length;
      continue;
    }
    if (i < s.length) out += s[i];
    i++;
  }
  return out;
}

/** Registry entries of this family. */
export const stringBuiltins: BuiltinDef[] = [
  def('concat', 2, (a) => {
    const sep = str('concat', a, 0);
    const v = a[1]!;
    const items = arrayOrSet('concat', a, 1);
    return items
      .map((x) => {
        if (typeof x !== 'string')
          throw typeError(
            'concat',
            `operand 2 must be ${Array.isArray(v) ? 'array' : 'set'} of strings but got ${Array.isArray(v) ? 'array' : 'set'} containing ${typeName(x)}`,
          );
        return x;
      })
      .join(sep);
  }),
  def('contains', 2, (a) => str('contains', a, 0).includes(str('contains', a, 1))),
  def('startswith', 2, (a) => str('startswith', a, 0).startsWith(str('startswith', a, 1))),
  def('endswith', 2, (a) => str('endswith', a, 0).endsWith(str('endswith', a, 1))),
  def('lower', 1, (a) => str('lower', a, 0).toLowerCase()),
  def('upper', 1, (a) => str('upper', a, 0).toUpperCase()),
  def('indexof', 2, (a) => {
    const s = str('indexof', a, 0);
    const sub = str('indexof', a, 1);
    if (sub === '') throw builtinError('indexof', 'empty search character');
    return indexOfRunes(s, sub);
  }),
  def('indexof_n', 2, (a) => {
    const s = str('indexof_n', a, 0);
    const sub = str('indexof_n', a, 1);
    if (sub === '') throw builtinError('indexof_n', 'empty search character');
    const out: Value[] = [];
    const r = runes(s);
    const sr = runes(sub);
    for (let i = 0; i + sr.length <= r.length; i++) if (sr.every((c, j) => r[i + j] === c)) out.push(i);
    return out;
  }),
  def('substring', 3, (a) => {
    const s = str('substring', a, 0);
    const start = Number(int('substring', a, 1));
    const len = Number(int('substring', a, 2));
    if (start < 0) throw builtinError('substring', 'negative offset');
    const r = runes(s);
    if (start >= r.length) return '';
    return (len < 0 ? r.slice(start) : r.slice(start, start + len)).join('');
  }),
  def('split', 2, (a) => goSplit(str('split', a, 0), str('split', a, 1))),
  def('strings.split_n', 3, (a) => {
    const parts = goSplit(str('strings.split_n', a, 0), str('strings.split_n', a, 1));
    const n = Number(int('strings.split_n', a, 2));
    if (str('strings.split_n', a, 0) === '') return [''];
    return n >= 0 ? parts.slice(0, n) : parts.slice(Math.max(0, parts.length + n));
  }),
  def('replace', 3, (a) => {
    const s = str('replace', a, 0);
    const old = str('replace', a, 1);
    const rep = str('replace', a, 2);
    if (old === '') return runes(s).reduce((acc, c) => acc + c + rep, rep);
    return s.split(old).join(rep);
  }),
  def('strings.replace_n', 2, (a) => {
    const p = a[0]!;
    if (!(p instanceof RObject)) badType('strings.replace_n', 0, 'object', p);
    return replaceN(p, str('strings.replace_n', a, 1));
  }),
  def('strings.reverse', 1, (a) =>
    runes(str('strings.reverse', a, 0))
      .reverse()
      .join(''),
  ),
  def('strings.count', 2, (a) => {
    const s = str('strings.count', a, 0);
    const sub = str('strings.count', a, 1);
    if (sub === '') return runes(s).length + 1;
    return s.split(sub).length - 1;
  }),
  def('strings.any_prefix_match', 2, (a) => {
    const ss = stringsOf('strings.any_prefix_match', a, 0);
    const ps = stringsOf('strings.any_prefix_match', a, 1);
    return ss.some((s) => ps.some((p) => s.startsWith(p)));
  }),
  def('strings.any_suffix_match', 2, (a) => {
    const ss = stringsOf('strings.any_suffix_match', a, 0);
    const ps = stringsOf('strings.any_suffix_match', a, 1);
    return ss.some((s) => ps.some((p) => s.endsWith(p)));
  }),
  def('trim', 2, (a) => trimRightSet(trimLeftSet(str('trim', a, 0), str('trim', a, 1)), str('trim', a, 1))),
  def('trim_left', 2, (a) => trimLeftSet(str('trim_left', a, 0), str('trim_left', a, 1))),
  def('trim_right', 2, (a) => trimRightSet(str('trim_right', a, 0), str('trim_right', a, 1))),
  def('trim_prefix', 2, (a) => {
    const s = str('trim_prefix', a, 0);
    const p = str('trim_prefix', a, 1);
    return s.startsWith(p) ? s.slice(p.length) : s;
  }),
  def('trim_suffix', 2, (a) => {
    const s = str('trim_suffix', a, 0);
    const p = str('trim_suffix', a, 1);
    return p !== '' && s.endsWith(p) ? s.slice(0, s.length - p.length) : s;
  }),
  def('trim_space', 1, (a) => str('trim_space', a, 0).replace(SPACE, '')),
  def('sprintf', 2, (a) => {
    const f = str('sprintf', a, 0);
    const v = a[1]!;
    if (!Array.isArray(v)) badType('sprintf', 1, 'array', v);
    return sprintf(f, v);
  }),
  def('format_int', 2, (a) => {
    const n = num('format_int', a, 0);
    const base = num('format_int', a, 1);
    if (base !== 2 && base !== 8 && base !== 10 && base !== 16) throw typeError('format_int', 'operand 2 must be one of {2, 8, 10, 16}');
    const whole = typeof n === 'bigint' ? n : BigInt(Math.trunc(n));
    return formatInt(whole, base);
  }),
];
