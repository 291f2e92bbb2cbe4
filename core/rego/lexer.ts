import { RegoCompileError } from './errors';
import type { Location } from './errors';

/** Token kinds produced by the lexer. */
export type TokenType = 'ident' | 'string' | 'number' | 'template' | 'op' | 'eof';

/** A literal piece or an embedded expression of a template string (`$"...{expr}..."`). */
export type TemplatePart = { text: string } | { src: string; row: number; col: number };

/** A lexical token; `nl` records whether a newline preceded it (newlines separate body expressions). */
export type Token = {
  t: TokenType;
  v: string;
  row: number;
  col: number;
  nl: boolean;
  /** Whether whitespace or a comment preceded it. */
  sp: boolean;
  /** Position in the token list. */
  i: number;
  /** Decoded string value for strings; parts for templates. */
  str?: string;
  parts?: TemplatePart[];
};

const OPS = [':=', '==', '!=', '<=', '>=', '{', '}', '[', ']', '(', ')', '.', ',', ';', ':', '=', '<', '>', '+', '-', '*', '/', '%', '&', '|'];

/** Raises OPA's `rego_parse_error` at a position. */
export function parseError(file: string, row: number, col: number, message: string): never {
  const location: Location = { file, row, col };
  throw new RegoCompileError([{ code: 'rego_parse_error', message, location }]);
}

/** Splits Rego source into tokens. `row0`/`col0` offset positions for sources embedded in templates. */
export function tokenize(src: string, file: string, row0 = 1, col0 = 1): Token[] {
  const toks: Token[] = [];
  let i = 0;
  let row = row0;
  let lineStart = -(col0 - 1);
  let nl = false;
  let sp = false;
  const n = src.length;
  const col = () => i - lineStart + 1;
  while (i < n) {
    const c = src[i]!;
    if (c === '\n') {
      nl = true;
      sp = true;
      i++;
      row++;
      lineStart = i;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      sp = true;
      i++;
      continue;
    }
    if (c === '#') {
      sp = true;
      while (i < n && src[i] !== '\n') i++;
      continue;
    }
    const startRow = row;
    const startCol = col();
    const push = (t: TokenType, v: string, extra?: Partial<Token>) => {
      toks.push({ t, v, row: startRow, col: startCol, nl, sp, i: toks.length, ...extra });
      nl = false;
      sp = false;
    };
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && isIdentPart(src[j]!)) j++;
      push('ident', src.slice(i, j));
      i = j;
      continue;
    }
    if (isDigit(c) || (c === '.' && isDigit(src[i + 1] ?? ''))) {
      let j = i;
      while (j < n && isDigit(src[j]!)) j++;
      if (src[j] === '.' && isDigit(src[j + 1] ?? '')) {
        j++;
        while (j < n && isDigit(src[j]!)) j++;
      }
      if (src[j] === 'e' || src[j] === 'E') {
        let k = j + 1;
        if (src[k] === '+' || src[k] === '-') k++;
        if (isDigit(src[k] ?? '')) {
          j = k;
          while (j < n && isDigit(src[j]!)) j++;
        }
      }
      push('number', src.slice(i, j));
      i = j;
      continue;
    }
    if (c === '"') {
      const [value, end] = readString(src, i, file, startRow, startCol);
      push('string', src.slice(i, end), { str: value });
      i = end;
      continue;
    }
    if (c === '`') {
      const end = src.indexOf('`', i + 1);
      if (end < 0) parseError(file, startRow, startCol, 'non-terminated raw string');
      const value = src.slice(i + 1, end);
      for (const ch of value) if (ch === '\n') row++;
      if (value.includes('\n')) lineStart = i + 1 + value.lastIndexOf('\n') + 1;
      push('string', src.slice(i, end + 1), { str: value });
      i = end + 1;
      continue;
    }
    if (c === '$' && (src[i + 1] === '"' || src[i + 1] === '`')) {
      const raw = src[i + 1] === '`';
      const res = readTemplate(src, i + 2, raw, file, row, lineStart);
      push('template', src.slice(i, res.end), { parts: res.parts });
      row = res.row;
      lineStart = res.lineStart;
      i = res.end;
      continue;
    }
    let op: string | undefined;
    for (const o of OPS) {
      if (src.startsWith(o, i)) {
        op = o;
        break;
      }
    }
    if (!op) parseError(file, startRow, startCol, `illegal token: ${c}`);
    push('op', op);
    i += op.length;
  }
  toks.push({ t: 'eof', v: '', row, col: col(), nl: true, sp: true, i: toks.length });
  return toks;
}

function isIdentStart(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_';
}
function isIdentPart(c: string): boolean {
  return isIdentStart(c) || isDigit(c);
}
function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

/** Reads a double-quoted string starting at `start`; returns the decoded value and the end offset. */
function readString(src: string, start: number, file: string, row: number, col: number): [string, number] {
  let j = start + 1;
  let out = '';
  while (true) {
    const ch = src[j];
    if (ch === undefined || ch === '\n') parseError(file, row, col, 'non-terminated string');
    if (ch === '"') return [out, j + 1];
    if (ch === '\\') {
      const [s, next] = readEscape(src, j, file, row, col);
      out += s;
      j = next;
      continue;
    }
    out += ch;
    j++;
  }
}

/** Decodes one JSON escape sequence at `j` (which points at the backslash). */
function readEscape(src: string, j: number, file: string, row: number, col: number): [string, number] {
  const e = src[j + 1];
  switch (e) {
    case '"':
      return ['"', j + 2];
    case '\\':
      return ['\\', j + 2];
    case '/':
      return ['/', j + 2];
    case 'b':
      return ['\b', j + 2];
    case 'f':
      return ['\f', j + 2];
    case 'n':
      return ['\n', j + 2];
    case 'r':
      return ['\r', j + 2];
    case 't':
      return ['\t', j + 2];
    case 'u': {
      const hex = src.slice(j + 2, j + 6);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) parseError(file, row, col, 'illegal escape sequence in string');
      return [String.fromCharCode(parseInt(hex, 16)), j + 6];
    }
  }
  return parseError(file, row, col, 'illegal escape sequence in string');
}

/** Reads a template string body; `{expr}` segments become expression sources, `\{` a literal brace. */
function readTemplate(
  src: string,
  start: number,
  raw: boolean,
  file: string,
  row: number,
  lineStart: number,
): { parts: TemplatePart[]; end: number; row: number; lineStart: number } {
  const parts: TemplatePart[] = [];
  let text = '';
  let j = start;
  const close = raw ? '`' : '"';
  while (true) {
    const ch = src[j];
    if (ch === undefined || (!raw && ch === '\n')) parseError(file, row, j - lineStart + 1, 'non-terminated template string');
    if (ch === close) {
      if (text) parts.push({ text });
      return { parts, end: j + 1, row, lineStart };
    }
    if (ch === '\n') {
      row++;
      lineStart = j + 1;
      text += ch;
      j++;
      continue;
    }
    if (ch === '\\' && src[j + 1] === '{') {
      text += '{';
      j += 2;
      continue;
    }
    if (ch === '\\' && !raw) {
      const [s, next] = readEscape(src, j, file, row, j - lineStart + 1);
      text += s;
      j = next;
      continue;
    }
    if (ch === '{') {
      if (text) parts.push({ text });
      text = '';
      const exprStart = j + 1;
      const exprRow = row;
      const exprCol = exprStart - lineStart + 1;
      const end = findClosingBrace(src, exprStart, file, row, exprCol);
      const exprSrc = src.slice(exprStart, end);
      for (let k = exprStart; k < end; k++) {
        if (src[k] === '\n') {
          row++;
          lineStart = k + 1;
        }
      }
      parts.push({ src: exprSrc, row: exprRow, col: exprCol });
      j = end + 1;
      continue;
    }
    text += ch;
    j++;
  }
}

/** Finds the `}` closing a template expression, skipping nested braces and string literals. */
function findClosingBrace(src: string, start: number, file: string, row: number, col: number): number {
  let depth = 0;
  let j = start;
  while (j < src.length) {
    const ch = src[j]!;
    if (ch === '"') {
      j++;
      while (j < src.length && src[j] !== '"') j += src[j] === '\\' ? 2 : 1;
      j++;
      continue;
    }
    if (ch === '`') {
      j = src.indexOf('`', j + 1) + 1;
      if (j === 0) break;
      continue;
    }
    if (ch === '$' && (src[j + 1] === '"' || src[j + 1] === '`')) {
      // Nested template: skip to its end, honouring its own braces.
      const raw = src[j + 1] === '`';
      const res = readTemplate(src, j + 2, raw, file, row, 0);
      j = res.end;
      continue;
    }
    if (ch === '{') depth++;
    else if (ch === '}') {
      if (depth === 0) return j;
      depth--;
    }
    j++;
  }
  return parseError(file, row, col, 'non-terminated template expression');
}
