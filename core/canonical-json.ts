/**
 * Canonical JSON (RFC 8785-like): object keys sorted recursively by Unicode code point, no
 * insignificant whitespace, ECMAScript number and string serialization. Used wherever a JSON
 * value is hashed, so every party that holds the same value computes the same bytes.
 */
import { ProofgateError } from './errors';

/** Thrown when a value has no JSON representation (bigint, NaN, functions, class instances...). */
export class CanonicalJsonError extends ProofgateError {
  constructor(message: string) {
    super('non_canonicalizable_value', message, 400);
  }
}

/** Serializes a JSON-compatible value canonically; throws CanonicalJsonError on anything else. */
export function canonicalJson(value: unknown): string {
  return serialize(value, '$');
}

function serialize(value: unknown, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError(`${path}: non-finite number`);
      // ES number-to-string is what RFC 8785 prescribes; -0 serializes as 0.
      return JSON.stringify(value);
    case 'object':
      return Array.isArray(value) ? serializeArray(value, path) : serializeObject(value, path);
    default:
      throw new CanonicalJsonError(`${path}: ${typeof value} has no JSON representation`);
  }
}

function serializeArray(items: readonly unknown[], path: string): string {
  return `[${items.map((item, index) => serialize(item, `${path}[${index}]`)).join(',')}]`;
}

function serializeObject(value: object, path: string): string {
  const proto = Object.getPrototypeOf(value);
  // Class instances (Date, Map, Uint8Array...) have toJSON or no JSON form at all; refusing them
  // keeps the hash independent of how a runtime happens to stringify them.
  if (proto !== Object.prototype && proto !== null) {
    throw new CanonicalJsonError(`${path}: only plain objects and arrays are allowed`);
  }
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  entries.sort(([a], [b]) => compareCodePoints(a, b));
  const members = entries.map(([key, v]) => `${JSON.stringify(key)}:${serialize(v, `${path}.${key}`)}`);
  return `{${members.join(',')}}`;
}

/** Orders strings by Unicode code point (not UTF-16 code unit, which differs above U+FFFF). */
function compareCodePoints(a: string, b: string): number {
  const left = Array.from(a);
  const right = Array.from(b);
  const length = Math.min(left.length, right.length);
  for (let i = 0; i < length; i++) {
    const diff = (left[i]!.codePointAt(0) ?? 0) - (right[i]!.codePointAt(0) ?? 0);
    if (diff !== 0) return diff;
  }
  return left.length - right.length;
}
