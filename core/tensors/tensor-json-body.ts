import { InvalidRequestError } from '../errors';
import { MAX_DIMS, encodeTensors, type TensorHeader } from './tensor-codec';
import { ELEMENT_SIZE, InvalidTensorError, elementCount, isTensorType, type Tensor, type TensorType } from './tensor';
import { checkDims, writeJsonElement } from './tensor-json';

// A reader for the JSON body of an inference call, `{"inputs": {"<name>": {"type", "dims",
// "data"}}}`, written by hand because JSON.parse builds the whole document as JavaScript values
// before anything can be checked: a 32 MiB body of small arrays or objects becomes several times
// that in memory, whatever the model accepts. This reader checks each tensor's type and dims (and
// the caller's check against the model) before it allocates the tensor's bytes, and writes elements
// straight into them; the memory it uses is the body plus the tensors the model admits.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MAX_DEPTH = 64;
const MAX_NUMBER_CHARS = 512;
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function digit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

/** A composite value inside `data`: not an element of any type (reported as such by the writer). */
export const COMPOSITE = Symbol('composite');
type Element = number | string | boolean | null | typeof COMPOSITE;

function syntaxError(at: number): InvalidRequestError {
  return new InvalidRequestError('invalid_json', `request body is not valid JSON (at byte ${at})`);
}

/** A cursor over JSON bytes that checks syntax as it goes and builds only what its caller asks for (other request forms read with it too). */
export class JsonCursor {
  pos = 0;

  constructor(readonly bytes: Uint8Array) {}

  // The ASCII text of a number token, for the engine's correctly rounded conversion.
  private numberText(start: number, end: number): string {
    let text = '';
    for (let i = start; i < end; i++) text += String.fromCharCode(this.bytes[i]!);
    return text;
  }

  ws(): void {
    const b = this.bytes;
    let p = this.pos;
    for (;;) {
      const c = b[p];
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++;
      else break;
    }
    this.pos = p;
  }

  peek(): number {
    return this.pos < this.bytes.length ? this.bytes[this.pos]! : -1;
  }

  expect(c: number): void {
    if (this.bytes[this.pos] !== c) throw syntaxError(this.pos);
    this.pos++;
  }

  // The end (exclusive) of the string starting at `pos`, and whether it has escapes.
  private stringEnd(): { end: number; escaped: boolean } {
    const b = this.bytes;
    let p = this.pos + 1;
    let escaped = false;
    for (;;) {
      if (p >= b.length) throw syntaxError(p);
      const c = b[p]!;
      if (c === QUOTE) return { end: p + 1, escaped };
      if (c === BACKSLASH) {
        escaped = true;
        p += 2;
      } else if (c < 0x20) {
        throw syntaxError(p);
      } else p++;
    }
  }

  string(): string {
    if (this.bytes[this.pos] !== QUOTE) throw syntaxError(this.pos);
    const start = this.pos;
    const { end, escaped } = this.stringEnd();
    this.pos = end;
    try {
      const raw = utf8Strict.decode(this.bytes.subarray(escaped ? start : start + 1, escaped ? end : end - 1));
      return escaped ? (JSON.parse(raw) as string) : raw;
    } catch {
      throw syntaxError(start);
    }
  }

  /** A JSON number at `pos`, parsed exactly (Clinger's fast path, else the engine's own conversion). */
  number(): number {
    const b = this.bytes;
    const start = this.pos;
    let p = start;
    let negative = false;
    if (b[p] === 0x2d) {
      negative = true;
      p++;
    }
    let mantissa = 0;
    let digits = 0;
    let fraction = 0;
    if (b[p] === 0x30) {
      p++;
    } else if (digit(b[p])) {
      while (digit(b[p])) {
        mantissa = mantissa * 10 + (b[p]! - 0x30);
        digits++;
        p++;
      }
    } else throw syntaxError(p);
    if (b[p] === 0x2e) {
      p++;
      if (!digit(b[p])) throw syntaxError(p);
      while (digit(b[p])) {
        mantissa = mantissa * 10 + (b[p]! - 0x30);
        if (mantissa !== 0) digits++;
        fraction++;
        p++;
      }
    }
    let exponent = 0;
    let exact = true;
    if (b[p] === 0x65 || b[p] === 0x45) {
      p++;
      let expNegative = false;
      if (b[p] === 0x2b || b[p] === 0x2d) expNegative = b[p++] === 0x2d;
      if (!digit(b[p])) throw syntaxError(p);
      while (digit(b[p])) {
        exponent = exponent * 10 + (b[p]! - 0x30);
        if (exponent > 1e6) exact = false;
        p++;
      }
      if (expNegative) exponent = -exponent;
    }
    if (p - start > MAX_NUMBER_CHARS) throw new InvalidTensorError(`a number of more than ${MAX_NUMBER_CHARS} characters at byte ${start}`);
    this.pos = p;
    const scale = exponent - fraction;
    let value: number;
    // Both the mantissa (< 2^53) and the power of ten are exact doubles, so one IEEE operation
    // rounds correctly; anything else goes through the engine's correctly rounded conversion.
    if (exact && digits <= 15 && scale >= -22 && scale <= 22) value = scale < 0 ? mantissa / POW10[-scale]! : mantissa * POW10[scale]!;
    else return Number(this.numberText(start, p));
    return negative ? -value : value;
  }

  literal(word: 'true' | 'false' | 'null'): void {
    for (let i = 0; i < word.length; i++) if (this.bytes[this.pos + i] !== word.charCodeAt(i)) throw syntaxError(this.pos);
    this.pos += word.length;
  }

  /** One element of a flat `data` array; composites are skipped and reported as such. */
  element(): Element {
    const c = this.peek();
    if (c === QUOTE) return this.string();
    if (c === 0x74) {
      this.literal('true');
      return true;
    }
    if (c === 0x66) {
      this.literal('false');
      return false;
    }
    if (c === 0x6e) {
      this.literal('null');
      return null;
    }
    if (c === 0x5b || c === 0x7b) {
      this.skipValue(0);
      return COMPOSITE;
    }
    return this.number();
  }

  /** Skips any JSON value (checking its syntax), nested at most MAX_DEPTH deep. */
  skipValue(depth: number): void {
    if (depth > MAX_DEPTH) throw new InvalidRequestError('invalid_json', `request body nests deeper than ${MAX_DEPTH}`);
    this.ws();
    const c = this.peek();
    if (c === QUOTE) {
      this.pos = this.stringEnd().end;
    } else if (c === 0x7b || c === 0x5b) {
      const close = c === 0x7b ? 0x7d : 0x5d;
      this.pos++;
      this.ws();
      if (this.peek() === close) {
        this.pos++;
        return;
      }
      for (;;) {
        if (c === 0x7b) {
          this.ws();
          if (this.peek() !== QUOTE) throw syntaxError(this.pos);
          this.pos = this.stringEnd().end;
          this.ws();
          this.expect(0x3a);
        }
        this.skipValue(depth + 1);
        this.ws();
        if (this.peek() === 0x2c) this.pos++;
        else {
          this.expect(close);
          return;
        }
      }
    } else {
      this.element();
    }
  }

  /** Iterates the members of the object at `pos`, calling `member(key)` with `pos` at each value. */
  object(member: (key: string) => void): void {
    this.expect(0x7b);
    this.ws();
    if (this.peek() === 0x7d) {
      this.pos++;
      return;
    }
    for (;;) {
      this.ws();
      const key = this.string();
      this.ws();
      this.expect(0x3a);
      this.ws();
      member(key);
      this.ws();
      if (this.peek() === 0x2c) this.pos++;
      else {
        this.expect(0x7d);
        return;
      }
    }
  }

  /** Iterates the elements of the array at `pos`, calling `item(index)` with `pos` at each. */
  array(item: (index: number) => void): number {
    this.expect(0x5b);
    this.ws();
    if (this.peek() === 0x5d) {
      this.pos++;
      return 0;
    }
    for (let i = 0; ; i++) {
      this.ws();
      item(i);
      this.ws();
      if (this.peek() === 0x2c) this.pos++;
      else {
        this.expect(0x5d);
        return i + 1;
      }
    }
  }
}

interface TensorDraft {
  type?: unknown;
  dims?: unknown[] | 'invalid';
  data?: { start: number } | { tensor: Tensor } | 'invalid';
}

/**
 * Reads the named tensors of a JSON body (`{"<field>": {"<name>": {type, dims, data}}, ...}`; other
 * top-level members are skipped) and returns their canonical encoding. `onHeader` sees each tensor's
 * name, type and dims before its data is converted, and may throw; elements are checked as
 * `tensorFromJson` checks them. Errors: 400 `invalid_json`, `invalid_request`, `invalid_tensor`.
 */
export function readJsonTensorBody(bytes: Uint8Array, field: string, onHeader: (header: TensorHeader) => void): Uint8Array {
  const cur = new JsonCursor(bytes);
  cur.ws();
  if (cur.peek() !== 0x7b) {
    cur.skipValue(0);
    cur.ws();
    if (cur.pos !== bytes.length) throw syntaxError(cur.pos);
    throw new InvalidRequestError('invalid_request', `body must be {"${field}": {"<name>": {"type", "dims", "data"}}}`);
  }
  let tensors: Map<string, Tensor> | undefined;
  cur.object((key) => {
    if (key !== field) return cur.skipValue(0);
    if (tensors) throw new InvalidRequestError('invalid_request', `"${field}" appears twice`);
    if (cur.peek() !== 0x7b) throw new InvalidTensorError(`"${field}" must be an object mapping names to tensors`);
    tensors = readTensorMap(cur, onHeader);
  });
  cur.ws();
  if (cur.pos !== bytes.length) throw syntaxError(cur.pos);
  if (!tensors) throw new InvalidRequestError('invalid_request', `body must be {"${field}": {"<name>": {"type", "dims", "data"}}}`);
  return encodeTensors(Object.fromEntries(tensors));
}

function readTensorMap(cur: JsonCursor, onHeader: (header: TensorHeader) => void): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  cur.object((name) => {
    if (out.has(name)) throw new InvalidTensorError(`tensor "${name}" appears twice`, { tensor: name });
    if (cur.peek() !== 0x7b) throw new InvalidTensorError(`tensor "${name}" must be an object {type, dims, data}`, { tensor: name });
    const draft: TensorDraft = {};
    // The header as soon as type and dims are both known and valid; null while they are not.
    const header = (): { type: TensorType; dims: number[]; count: number } => {
      if (!isTensorType(draft.type)) throw new InvalidTensorError(`tensor "${name}": unknown type ${JSON.stringify(draft.type)}`, { tensor: name });
      const dims = checkDims(name, draft.dims === 'invalid' ? null : draft.dims);
      return { type: draft.type, dims, count: elementCount(dims) };
    };
    let checked: ReturnType<typeof header> | undefined;
    const check = (): ReturnType<typeof header> => {
      if (!checked) {
        checked = header();
        onHeader({ name, type: checked.type, dims: checked.dims, byteLength: checked.count * ELEMENT_SIZE[checked.type] });
      }
      return checked;
    };
    cur.object((key) => {
      if (key === 'type') {
        if (cur.peek() === QUOTE) draft.type = cur.string();
        else {
          cur.skipValue(0);
          draft.type = null;
        }
      } else if (key === 'dims') draft.dims = readJsonDims(cur);
      else if (key === 'data') {
        if (cur.peek() !== 0x5b) {
          cur.skipValue(0);
          draft.data = 'invalid';
        } else if (draft.type !== undefined && draft.dims !== undefined) {
          draft.data = { tensor: convertData(cur, name, check()) };
        } else {
          draft.data = { start: cur.pos };
          cur.skipValue(0);
        }
      } else cur.skipValue(0);
    });
    const h = check();
    if (draft.data === undefined || draft.data === 'invalid') {
      throw new InvalidTensorError(`tensor "${name}": data must be a flat array`, { tensor: name });
    }
    if ('tensor' in draft.data) {
      out.set(name, draft.data.tensor);
      return;
    }
    const end = cur.pos;
    cur.pos = draft.data.start;
    out.set(name, convertData(cur, name, h));
    cur.pos = end;
  });
  return out;
}

/** Reads a JSON array of dims, keeping at most one past MAX_DIMS (enough to refuse it); 'invalid' when it is no array. */
export function readJsonDims(cur: JsonCursor): unknown[] | 'invalid' {
  if (cur.peek() !== 0x5b) {
    cur.skipValue(0);
    return 'invalid';
  }
  const dims: unknown[] = [];
  cur.array(() => {
    const v = cur.element();
    if (dims.length <= MAX_DIMS) dims.push(v === COMPOSITE ? null : v);
  });
  return dims;
}

// Converts the `data` array at `pos` into a tensor of the checked header, refusing as soon as the
// array holds more elements than the dims do.
function convertData(cur: JsonCursor, name: string, h: { type: TensorType; dims: number[]; count: number }): Tensor {
  const bytes = new Uint8Array(h.count * ELEMENT_SIZE[h.type]);
  const view = new DataView(bytes.buffer);
  const mismatch = (n: string): InvalidTensorError =>
    new InvalidTensorError(`tensor "${name}": dims [${h.dims.join(', ')}] hold ${h.count} elements but data has ${n}`, { tensor: name });
  const n = cur.array((i) => {
    if (i >= h.count) throw mismatch(`more than ${h.count}`);
    const v = cur.element();
    const why = writeJsonElement(h.type, view, bytes, i, v === COMPOSITE ? undefined : v);
    if (why) throw new InvalidTensorError(`tensor "${name}": data[${i}] ${why}`, { tensor: name, index: i });
  });
  if (n !== h.count) throw mismatch(String(n));
  return { type: h.type, dims: h.dims, data: bytes };
}

/** Bytes the UTF-8 name takes: for sizing a body cap before anything is read. */
export function utf8Length(text: string): number {
  return utf8.encode(text).length;
}
