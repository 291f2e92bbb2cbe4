/**
 * glob.* builtins (OPA uses gobwas/glob): a glob translates to an anchored RE2 pattern, so matching
 * is linear in the input like every other pattern builtin, and is charged the same way.
 */
import type { Value } from '../value';
import { badType, str } from './args';
import { compileSource, quoteMeta, test } from './re2';
import { def } from './types';
import type { BuiltinDef } from './types';

/** RE2 source of a glob: `*` stops at delimiters, `**` does not; `[!...]` negates; `{a,b}` alternates. */
function globSource(pattern: string, delimiters: string[]): string | { error: string } {
  const notDelim = delimiters.length ? `[^${delimiters.map(escapeClass).join('')}]` : '[\\s\\S]';
  let src = '';
  let i = 0;
  let depth = 0;
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === '\\') {
      src += quoteMeta(pattern[i + 1] ?? '');
      i += 2;
      continue;
    }
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        src += '[\\s\\S]*';
        i += 2;
      } else {
        src += `${notDelim}*`;
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
      if (end < 0) return { error: 'unexpected end of input' };
      let body = pattern.slice(i + 1, end);
      const neg = body.startsWith('!');
      if (neg) body = body.slice(1);
      // `[` is escaped too: RE2 would read `[:alpha:]` inside a class as a POSIX class.
      src += `[${neg ? '^' : ''}${body.replace(/[\\[\]]/g, '\\$&')}]`;
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
    src += quoteMeta(c);
    i++;
  }
  if (depth > 0) return { error: 'unexpected end of input' };
  return `^(?:${src})$`;
}

function escapeClass(s: string): string {
  return s.replace(/[\\[\]^-]/g, '\\$&');
}

/** glob.match's delimiters: null means none, an empty array means OPA's default `["."]`. */
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
export const globBuiltins: BuiltinDef[] = [
  def('glob.match', 3, (a, ctx) => {
    const pattern = str('glob.match', a, 0);
    const delimiters = delimitersOf(a[1]!);
    const s = str('glob.match', a, 2);
    // The JSON list ends at its `]`, so the pattern that follows cannot be confused with it.
    const r = compileSource('glob.match', `glob:${JSON.stringify(delimiters)}${pattern}`, ctx, () => globSource(pattern, delimiters));
    return test(r, s, ctx);
  }),
  def('glob.quote_meta', 1, (a) => str('glob.quote_meta', a, 0).replace(/[*?\\[\]{}]/g, '\\$&')),
];
