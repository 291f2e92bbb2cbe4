/** Exact JSON parsing into Rego values (big integers stay exact, unlike JSON.parse). */
import { normInt } from './number';
import { RObject } from './value';
import type { Value } from './value';

/** Thrown for malformed JSON. */
export class JsonSyntaxError extends Error {
  override name = 'JsonSyntaxError';
}

/** Parses JSON text into a Rego value. */
export function parseJSON(text: string): Value {
  const p = { s: text, i: 0 };
  ws(p);
  const v = value(p);
  ws(p);
  if (p.i !== p.s.length) throw new JsonSyntaxError(`invalid character '${p.s[p.i]}' after top-level value`);
  return v;
}

type P = { s: string; i: number };

function ws(p: P): void {
  while (p.i < p.s.length) {
    const c = p.s.charCodeAt(p.i);
    if (c === 32 || c === 9 || c === 10 || c === 13) p.i++;
    else break;
  }
}

function value(p: P): Value {
  const c = p.s[p.i];
  switch (c) {
    case '{': {
      p.i++;
      const o = new RObject();
      ws(p);
      if (p.s[p.i] === '}') {
        p.i++;
        return o;
      }
      while (true) {
        ws(p);
        if (p.s[p.i] !== '"') throw new JsonSyntaxError('expected string key');
        const k = string(p);
        ws(p);
        if (p.s[p.i] !== ':') throw new JsonSyntaxError("expected ':'");
        p.i++;
        ws(p);
        o.set(k, value(p));
        ws(p);
        if (p.s[p.i] === ',') {
          p.i++;
          continue;
        }
        if (p.s[p.i] === '}') {
          p.i++;
          return o;
        }
        throw new JsonSyntaxError("expected ',' or '}'");
      }
    }
    case '[': {
      p.i++;
      const a: Value[] = [];
      ws(p);
      if (p.s[p.i] === ']') {
        p.i++;
        return a;
      }
      while (true) {
        ws(p);
        a.push(value(p));
        ws(p);
        if (p.s[p.i] === ',') {
          p.i++;
          continue;
        }
        if (p.s[p.i] === ']') {
          p.i++;
          return a;
        }
        throw new JsonSyntaxError("expected ',' or ']'");
      }
    }
    case '"':
      return string(p);
    case 't':
      return literal(p, 'true', true);
    case 'f':
      return literal(p, 'false', false);
    case 'n':
      return literal(p, 'null', null);
    default: {
      const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(p.s.slice(p.i, p.i + 400));
      if (!m) throw new JsonSyntaxError(`invalid character '${c ?? 'EOF'}' looking for beginning of value`);
      p.i += m[0].length;
      return numberFromText(m[0]);
    }
  }
}

/** Number from JSON/Rego literal text: exact integers (BigInt beyond 2^53), doubles otherwise. */
export function numberFromText(t: string): number | bigint {
  if (/^-?\d+$/.test(t)) return normInt(BigInt(t));
  return Number(t);
}

function literal(p: P, word: string, v: Value): Value {
  if (!p.s.startsWith(word, p.i)) throw new JsonSyntaxError(`invalid literal`);
  p.i += word.length;
  return v;
}

function string(p: P): string {
  const start = p.i;
  let j = p.i + 1;
  let simple = true;
  while (j < p.s.length) {
    const c = p.s.charCodeAt(j);
    if (c === 34) break;
    if (c === 92) {
      simple = false;
      j += 2;
      continue;
    }
    if (c < 32) throw new JsonSyntaxError('invalid control character in string');
    j++;
  }
  if (j >= p.s.length) throw new JsonSyntaxError('unexpected end of JSON input');
  p.i = j + 1;
  const raw = p.s.slice(start, j + 1);
  if (simple) return raw.slice(1, -1);
  try {
    return JSON.parse(raw) as string;
  } catch {
    throw new JsonSyntaxError('invalid escape in string');
  }
}
