/** regex.* builtins with OPA's semantics: Go's regexp (RE2 syntax, linear time) through re2.ts. */
import { builtinError } from '../errors';
import { int, str } from './args';
import { compileRegex, compileSource, findAll, groupNames, isValidRegex, quoteMeta, regexError, test } from './re2';
import type { Regex } from './re2';
import { def } from './types';
import type { BuiltinContext, BuiltinDef } from './types';

/** Go's regexp.Split(s, -1). */
function split(r: Regex, s: string, ctx: BuiltinContext): string[] {
  if (r.re.pattern() !== '' && s === '') return [''];
  const out: string[] = [];
  let beg = 0;
  let end = 0;
  for (const m of findAll(r, s, -1, ctx)) {
    end = m[0]!;
    if (m[1] !== 0) out.push(s.slice(beg, end));
    beg = m[1]!;
  }
  if (end !== s.length) out.push(s.slice(beg));
  return out;
}

/** Go's Regexp.ReplaceAllString: matches replaced by the expanded template. */
function replaceAll(r: Regex, s: string, template: string, ctx: BuiltinContext): string {
  const names = groupNames(r);
  let out = '';
  let last = 0;
  for (const m of findAll(r, s, -1, ctx)) {
    const piece = expand(template, s, m, names);
    // The output can outgrow the input by the template's length per match: charge it as it grows.
    ctx.charge(Math.ceil(piece.length / 8));
    out += s.slice(last, m[0]) + piece;
    last = m[1]!;
  }
  return out + s.slice(last);
}

/** Go's Regexp.Expand: `$1`, `${1}`, `$name`, `${name}`, `$$`; unknown or unmatched groups expand to "". */
function expand(template: string, s: string, m: number[], names: Record<string, number>): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const d = template.indexOf('$', i);
    if (d < 0) break;
    out += template.slice(i, d);
    i = d + 1;
    if (template[i] === '$') {
      out += '$';
      i++;
      continue;
    }
    const ref = /^(?:\{([\p{L}\p{Nd}_]+)\}|([\p{L}\p{Nd}_]+))/u.exec(template.slice(i));
    if (!ref) {
      // Malformed: Go keeps the `$` as text.
      out += '$';
      continue;
    }
    i += ref[0].length;
    const name = ref[1] ?? ref[2]!;
    // A number names a group by index; leading zeros make it a (named) group name, as in Go.
    const num = /^(0|[1-9][0-9]{0,8})$/.test(name) ? Number(name) : -1;
    const g = num >= 0 ? num : names[name];
    if (g !== undefined && 2 * g + 1 < m.length && m[2 * g]! >= 0) out += s.slice(m[2 * g], m[2 * g + 1]);
  }
  return out + template.slice(i);
}

/** The matched text of every group (unmatched groups as ""), as Go's FindAllStringSubmatch. */
function submatches(s: string, m: number[]): string[] {
  const out: string[] = [];
  for (let g = 0; g < m.length; g += 2) out.push(m[g]! >= 0 ? s.slice(m[g], m[g + 1]) : '');
  return out;
}

/**
 * OPA's regex.template_match (gorilla/mux templates): literal text with patterns between
 * single-character delimiters, anchored at both ends; each pattern must be valid on its own.
 */
function templateRegex(template: string, open: string, close: string, ctx: BuiltinContext): Regex {
  const NAME = 'regex.template_match';
  // Go measures the delimiters in bytes; OPA's end-delimiter message reports the start's length.
  const bytes = (x: string) => new TextEncoder().encode(x).length;
  if (bytes(open) !== 1) throw builtinError(NAME, `start delimiter has to be exactly one character long but is ${bytes(open)} long`);
  if (bytes(close) !== 1) throw builtinError(NAME, `end delimiter has to be exactly one character long but is ${bytes(open)} long`);
  return compileSource(NAME, `tm:${open}${close}${template}`, ctx, () => {
    const idxs: number[] = [];
    let level = 0;
    let start = 0;
    for (let i = 0; i < template.length; i++) {
      if (template[i] === open) {
        if (++level === 1) start = i;
      } else if (template[i] === close) {
        if (--level === 0) idxs.push(start, i + 1);
        else if (level < 0) return { error: `unbalanced braces in ${JSON.stringify(template)}` };
      }
    }
    if (level !== 0) return { error: `unbalanced braces in ${JSON.stringify(template)}` };
    let src = '^';
    let end = 0;
    for (let i = 0; i < idxs.length; i += 2) {
      const inner = template.slice(idxs[i]! + 1, idxs[i + 1]! - 1);
      const error = regexError(`^${inner}$`);
      if (error) return { error };
      src += `${quoteMeta(template.slice(end, idxs[i]))}(${inner})`;
      end = idxs[i + 1]!;
    }
    return `${src + quoteMeta(template.slice(end))}$`;
  });
}

/** Registry entries of this family. Operands are type-checked in order before the pattern compiles, as in OPA. */
export const regexBuiltins: BuiltinDef[] = [
  def('regex.match', 2, (a, ctx) => {
    const [pattern, s] = [str('regex.match', a, 0), str('regex.match', a, 1)];
    return test(compileRegex('regex.match', pattern, ctx), s, ctx);
  }),
  def('regex.is_valid', 1, (a, ctx) => typeof a[0] === 'string' && isValidRegex(a[0], ctx)),
  def('regex.split', 2, (a, ctx) => {
    const [pattern, s] = [str('regex.split', a, 0), str('regex.split', a, 1)];
    return split(compileRegex('regex.split', pattern, ctx), s, ctx);
  }),
  def('regex.find_n', 3, (a, ctx) => {
    const [pattern, s, n] = [str('regex.find_n', a, 0), str('regex.find_n', a, 1), int('regex.find_n', a, 2)];
    return findAll(compileRegex('regex.find_n', pattern, ctx), s, Number(n), ctx).map((m) => s.slice(m[0], m[1]));
  }),
  def('regex.find_all_string_submatch_n', 3, (a, ctx) => {
    const NAME = 'regex.find_all_string_submatch_n';
    const [pattern, s, n] = [str(NAME, a, 0), str(NAME, a, 1), int(NAME, a, 2)];
    return findAll(compileRegex(NAME, pattern, ctx), s, Number(n), ctx).map((m) => submatches(s, m));
  }),
  def('regex.replace', 3, (a, ctx) => {
    const [s, pattern, template] = [str('regex.replace', a, 0), str('regex.replace', a, 1), str('regex.replace', a, 2)];
    return replaceAll(compileRegex('regex.replace', pattern, ctx), s, template, ctx);
  }),
  def('regex.template_match', 4, (a, ctx) => {
    const NAME = 'regex.template_match';
    const [template, s, open, close] = [str(NAME, a, 0), str(NAME, a, 1), str(NAME, a, 2), str(NAME, a, 3)];
    return test(templateRegex(template, open, close, ctx), s, ctx);
  }),
];
