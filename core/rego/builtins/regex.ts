/** regex.* (RE2 syntax translated to JS RegExp) and glob.* builtins. */
import { builtinError } from '../errors';
import type { Value } from '../value';
import { badType, int, str } from './args';
import { def } from './types';
import type { BuiltinDef } from './types';

const POSIX: Record<string, string> = {
  alnum: 'a-zA-Z0-9',
  alpha: 'a-zA-Z',
  ascii: '\\x00-\\x7F',
  blank: ' \\t',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: ' \\t\\n\\r\\f\\v',
  upper: 'A-Z',
  word: 'A-Za-z0-9_',
  xdigit: '0-9A-Fa-f',
};

/** Translates an RE2 pattern to a JS RegExp (named groups, \z, inline flags, POSIX classes). */
export function compileRE2(name: string, pattern: string, global = false): RegExp {
  let src = pattern;
  let flags = global ? 'g' : '';
  const lead = /^\(\?([imsU]+)\)/.exec(src);
  if (lead) {
    if (lead[1]!.includes('U')) throw builtinError(name, `error parsing regexp: invalid or unsupported Perl syntax: \`(?U\``);
    for (const f of lead[1]!) if (!flags.includes(f)) flags += f;
    src = src.slice(lead[0].length);
  }
  src = src
    .replace(/\(\?P</g, '(?<')
    .replace(/\\z/g, '$(?![\\s\\S])')
    .replace(/\\A/g, '^')
    .replace(/\[:(\^?)([a-z]+):\]/g, (m, neg: string, cls: string) => (POSIX[cls] ? (neg ? `^${POSIX[cls]}` : POSIX[cls]!) : m));
  try {
    return new RegExp(src, flags);
  } catch (e) {
    throw builtinError(name, `error parsing regexp: ${(e as Error).message}`);
  }
}

function findAll(re: RegExp, s: string, n: number): RegExpExecArray[] {
  const out: RegExpExecArray[] = [];
  if (n === 0) return out;
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  let lastEnd = -1;
  while ((m = re.exec(s))) {
    if (m[0] === '') {
      // Go skips an empty match right after the previous match.
      if (m.index === lastEnd) {
        re.lastIndex++;
        continue;
      }
      re.lastIndex++;
    }
    lastEnd = m.index + m[0].length;
    out.push(m);
    if (n > 0 && out.length >= n) break;
    if (re.lastIndex > s.length) break;
  }
  return out;
}

/** Go's regexp.Split(s, -1). */
function split(re: RegExp, s: string): string[] {
  if (s === '') return [''];
  const ms = findAll(re, s, -1);
  const out: string[] = [];
  let beg = 0;
  for (const m of ms) {
    const end = m.index;
    if (m[0] === '' && end === 0) continue;
    out.push(s.slice(beg, end));
    beg = end + m[0].length;
  }
  out.push(s.slice(beg));
  return out;
}

/** Go's ReplaceAllString template: `$1`, `${1}`, `$name`, `$$`. */
function expand(template: string, m: RegExpExecArray): string {
  return template.replace(/\$(\$|\{(\w+)\}|(\w+))/g, (_all, tok: string, braced?: string, bare?: string) => {
    if (tok === '$') return '$';
    const key = braced ?? bare!;
    if (/^\d+$/.test(key)) return m[Number(key)] ?? '';
    return m.groups?.[key] ?? '';
  });
}

/** regex.template_match: literal text with regexes between delimiters. */
function templateMatch(template: string, value: string, open: string, close: string): boolean {
  let src = '^';
  let i = 0;
  while (i < template.length) {
    const s = template.indexOf(open, i);
    if (s < 0) {
      src += escapeRe(template.slice(i));
      break;
    }
    src += escapeRe(template.slice(i, s));
    let depth = 1;
    let j = s + open.length;
    while (j < template.length && depth > 0) {
      if (template.startsWith(open, j)) depth++;
      else if (template.startsWith(close, j)) depth--;
      if (depth > 0) j++;
    }
    if (depth !== 0) throw builtinError('regex.template_match', `unbalanced braces in template ${JSON.stringify(template)}`);
    src += '(?:' + compileRE2('regex.template_match', template.slice(s + open.length, j)).source + ')';
    i = j + close.length;
  }
  return new RegExp(src + '$').test(value);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

// ---- glob (gobwas/glob semantics) ----

/** Compiles a glob to a RegExp: `*` stops at delimiters, `**` does not. */
export function globToRegExp(pattern: string, delimiters: string[]): RegExp {
  const notDelim = delimiters.length ? `[^${delimiters.map(escapeClass).join('')}]` : '[\\s\\S]';
  let src = '';
  let i = 0;
  let depth = 0;
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === '\\') {
      src += escapeRe(pattern[i + 1] ?? '');
      i += 2;
      continue;
    }
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        src += '[\\s\\S]*';
        i += 2;
      } else {
        src += notDelim + '*';
        i++;
      }
      continue;
    }
    if (c === '?') {
      src += notDelim;
      i++;
      continue;
    }
    if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw builtinError('glob.match', `unexpected end of input`);
      let body = pattern.slice(i + 1, end);
      const neg = body.startsWith('!');
      if (neg) body = body.slice(1);
      src += `[${neg ? '^' : ''}${body.replace(/\\/g, '\\\\').replace(/\]/g, '\\]')}]`;
      i = end + 1;
      continue;
    }
    if (c === '{') {
      depth++;
      src += '(?:';
      i++;
      continue;
    }
    if (c === '}' && depth > 0) {
      depth--;
      src += ')';
      i++;
      continue;
    }
    if (c === ',' && depth > 0) {
      src += '|';
      i++;
      continue;
    }
    src += escapeRe(c);
    i++;
  }
  if (depth > 0) throw builtinError('glob.match', 'unexpected end of input');
  return new RegExp('^(?:' + src + ')$');
}

function escapeClass(s: string): string {
  return s.replace(/[\\\]^-]/g, '\\$&');
}

function delimitersOf(v: Value): string[] {
  if (v === null) return [];
  if (!Array.isArray(v)) return badType('glob.match', 1, 'array', v);
  const out = v.map((d) => {
    if (typeof d !== 'string') return badType('glob.match', 1, 'array of strings', v);
    return d;
  });
  return out.length ? out : ['.'];
}

/** Registry entries of this family. */
export const regexBuiltins: BuiltinDef[] = [
  def('regex.match', 2, (a) => compileRE2('regex.match', str('regex.match', a, 0)).test(str('regex.match', a, 1))),
  def('regex.is_valid', 1, (a) => {
    if (typeof a[0] !== 'string') return false;
    try {
      compileRE2('regex.is_valid', a[0]);
      return true;
    } catch {
      return false;
    }
  }),
  def('regex.split', 2, (a) => split(compileRE2('regex.split', str('regex.split', a, 0), true), str('regex.split', a, 1))),
  def('regex.find_n', 3, (a) => {
    const re = compileRE2('regex.find_n', str('regex.find_n', a, 0), true);
    return findAll(re, str('regex.find_n', a, 1), Number(int('regex.find_n', a, 2))).map((m) => m[0]);
  }),
  def('regex.find_all_string_submatch_n', 3, (a) => {
    const re = compileRE2('regex.find_all_string_submatch_n', str('regex.find_all_string_submatch_n', a, 0), true);
    const ms = findAll(re, str('regex.find_all_string_submatch_n', a, 1), Number(int('regex.find_all_string_submatch_n', a, 2)));
    return ms.map((m) => Array.from(m, (g) => g ?? ''));
  }),
  def('regex.replace', 3, (a) => {
    const s = str('regex.replace', a, 0);
    const re = compileRE2('regex.replace', str('regex.replace', a, 1), true);
    const tmpl = str('regex.replace', a, 2);
    let out = '';
    let last = 0;
    for (const m of findAll(re, s, -1)) {
      out += s.slice(last, m.index) + expand(tmpl, m);
      last = m.index + m[0].length;
    }
    return out + s.slice(last);
  }),
  def('regex.template_match', 4, (a) =>
    templateMatch(str('regex.template_match', a, 0), str('regex.template_match', a, 1), str('regex.template_match', a, 2), str('regex.template_match', a, 3)),
  ),
  def('glob.match', 3, (a) => globToRegExp(str('glob.match', a, 0), delimitersOf(a[1]!)).test(str('glob.match', a, 2))),
  def('glob.quote_meta', 1, (a) => str('glob.quote_meta', a, 0).replace(/[*?\\[\]{}]/g, '\\$&')),
];
