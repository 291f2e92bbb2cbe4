import { fromFloat16Bits, toFloat16Bits } from './float16';
import { ELEMENT_SIZE, InvalidTensorError, elementCount, isTensorType, type Tensor, type TensorMap, type TensorType } from './tensor';

/**
 * A JSON element: numbers; decimal strings for 64-bit integers; booleans; and, for floats, the strings
 * "Infinity", "-Infinity", "-0" (JSON numbers lose the sign of zero), "NaN" (the canonical quiet NaN),
 * "-NaN" (the same with the sign bit, x86's default NaN) and "NaN:0x<hex bits>" for any other NaN, so
 * that JSON carries every float bit pattern and hashes computed from JSON match the receipts.
 */
export type JsonElement = number | string | boolean;

/** The JSON form of a tensor: `{type, dims, data}` with `data` flat and row-major. */
export interface JsonTensor {
  type: TensorType;
  dims: number[];
  data: JsonElement[];
}

const INT_RANGES: Partial<Record<TensorType, readonly [number, number]>> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
};
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const UINT64_MAX = (1n << 64n) - 1n;
const SPECIAL_FLOATS: Readonly<Record<string, number>> = { Infinity: Infinity, '-Infinity': -Infinity, '-0': -0 };
// Canonical quiet NaN bit patterns, positive and negative, per width.
const NAN_BITS = { float32: [0x7fc00000, 0xffc00000], float16: [0x7e00, 0xfe00] } as const;

/** Largest tensor (in elements) the JSON codec accepts; bodies are size-limited before this anyway. */
export const MAX_ELEMENTS = 64 * 1024 * 1024;

/** Validates dims: a list of non-negative safe integers. */
export function checkDims(name: string, dims: unknown): number[] {
  if (!Array.isArray(dims) || !dims.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new InvalidTensorError(`tensor "${name}": dims must be an array of non-negative integers`, { tensor: name });
  }
  if (dims.length > 16) throw new InvalidTensorError(`tensor "${name}": at most 16 dimensions`, { tensor: name });
  if (elementCount(dims) > MAX_ELEMENTS) {
    throw new InvalidTensorError(`tensor "${name}": more than ${MAX_ELEMENTS} elements`, { tensor: name });
  }
  return dims as number[];
}

/** Converts one JSON tensor to raw little-endian bytes, checking every element against its type. */
export function tensorFromJson(name: string, json: unknown): Tensor {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new InvalidTensorError(`tensor "${name}" must be an object {type, dims, data}`, { tensor: name });
  }
  const { type, dims, data } = json as Record<string, unknown>;
  if (!isTensorType(type)) {
    throw new InvalidTensorError(`tensor "${name}": unknown type ${JSON.stringify(type)}`, { tensor: name });
  }
  const shape = checkDims(name, dims);
  if (!Array.isArray(data)) throw new InvalidTensorError(`tensor "${name}": data must be a flat array`, { tensor: name });
  const count = elementCount(shape);
  if (data.length !== count) {
    throw new InvalidTensorError(`tensor "${name}": dims [${shape.join(', ')}] hold ${count} elements but data has ${data.length}`, { tensor: name });
  }
  const bytes = new Uint8Array(count * ELEMENT_SIZE[type]);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < count; i++) {
    const why = writeJsonElement(type, view, bytes, i, data[i]);
    if (why) throw new InvalidTensorError(`tensor "${name}": data[${i}] ${why}`, { tensor: name, index: i });
  }
  return { type, dims: shape, data: bytes };
}

/**
 * Writes JSON element `v` as element `i` of a tensor of `type` (`view` and `bytes` over the same
 * data); returns why it cannot (not of the type, out of range), or undefined when written.
 */
export function writeJsonElement(type: TensorType, view: DataView, bytes: Uint8Array, i: number, v: unknown): string | undefined {
  switch (type) {
    case 'float32':
    case 'float16': {
      const nan = typeof v === 'string' ? parseNaN(type, v) : undefined;
      if (nan !== undefined) {
        if (type === 'float32') view.setUint32(i * 4, nan, true);
        else view.setUint16(i * 2, nan, true);
        return undefined;
      }
      const x = typeof v === 'number' ? v : typeof v === 'string' && v in SPECIAL_FLOATS ? SPECIAL_FLOATS[v]! : undefined;
      if (x === undefined) return `is not a ${type}`;
      if (type === 'float32') {
        const f = Math.fround(x);
        if (Number.isFinite(x) && !Number.isFinite(f)) return 'is out of float32 range';
        view.setFloat32(i * 4, f, true);
      } else {
        const bits = toFloat16Bits(x);
        if (Number.isFinite(x) && (bits & 0x7c00) === 0x7c00) return 'is out of float16 range';
        view.setUint16(i * 2, bits, true);
      }
      return undefined;
    }
    case 'int64':
    case 'uint64': {
      const n = parseInteger64(v);
      if (n === undefined) return 'is not an integer (64-bit integers may be numbers or decimal strings)';
      if (type === 'int64') {
        if (n < INT64_MIN || n > INT64_MAX) return 'is out of int64 range';
        view.setBigInt64(i * 8, n, true);
      } else {
        if (n < 0n || n > UINT64_MAX) return 'is out of uint64 range';
        view.setBigUint64(i * 8, n, true);
      }
      return undefined;
    }
    case 'bool':
      if (v === true || v === 1) bytes[i] = 1;
      else if (v === false || v === 0) bytes[i] = 0;
      else return 'is not a boolean';
      return undefined;
    default: {
      const [min, max] = INT_RANGES[type]!;
      if (typeof v !== 'number' || !Number.isInteger(v)) return 'is not an integer';
      if (v < min || v > max) return `is out of ${type} range`;
      writeSmallInt(view, type, i, v);
      return undefined;
    }
  }
}

// The bits of a NaN given as "NaN", "-NaN" or "NaN:0x<hex>"; undefined for any other string.
function parseNaN(type: 'float32' | 'float16', v: string): number | undefined {
  if (v === 'NaN') return NAN_BITS[type][0];
  if (v === '-NaN') return NAN_BITS[type][1];
  const m = /^NaN:0x([0-9a-f]+)$/.exec(v);
  if (!m) return undefined;
  const bits = parseInt(m[1]!, 16);
  const [expMask, fracMask, width] = type === 'float32' ? [0x7f800000, 0x7fffff, 8] : [0x7c00, 0x3ff, 4];
  return m[1]!.length === width && (bits & expMask) === expMask && (bits & fracMask) !== 0 ? bits : undefined;
}

function parseInteger64(v: unknown): bigint | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? BigInt(v) : undefined;
  if (typeof v === 'string' && /^-?(0|[1-9][0-9]{0,19})$/.test(v)) return BigInt(v);
  return undefined;
}

function writeSmallInt(view: DataView, type: TensorType, i: number, v: number): void {
  switch (type) {
    case 'int8':
      view.setInt8(i, v);
      break;
    case 'uint8':
      view.setUint8(i, v);
      break;
    case 'int16':
      view.setInt16(i * 2, v, true);
      break;
    case 'uint16':
      view.setUint16(i * 2, v, true);
      break;
    case 'int32':
      view.setInt32(i * 4, v, true);
      break;
    case 'uint32':
      view.setUint32(i * 4, v, true);
      break;
    default:
      throw new Error(`not a small integer type: ${type}`);
  }
}

/** Converts raw tensor bytes to the JSON form (64-bit integers beyond 2^53 become decimal strings). */
export function tensorToJson(tensor: Tensor): JsonTensor {
  const { type, dims, data: bytes } = tensor;
  const count = elementCount(dims);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: JsonElement[] = new Array(count);
  for (let i = 0; i < count; i++) {
    switch (type) {
      case 'float32':
        out[i] = floatToJson(view.getFloat32(i * 4, true), view.getUint32(i * 4, true), 'float32');
        break;
      case 'float16':
        out[i] = floatToJson(fromFloat16Bits(view.getUint16(i * 2, true)), view.getUint16(i * 2, true), 'float16');
        break;
      case 'int8':
        out[i] = view.getInt8(i);
        break;
      case 'uint8':
        out[i] = view.getUint8(i);
        break;
      case 'int16':
        out[i] = view.getInt16(i * 2, true);
        break;
      case 'uint16':
        out[i] = view.getUint16(i * 2, true);
        break;
      case 'int32':
        out[i] = view.getInt32(i * 4, true);
        break;
      case 'uint32':
        out[i] = view.getUint32(i * 4, true);
        break;
      case 'int64':
        out[i] = safeOrString(view.getBigInt64(i * 8, true));
        break;
      case 'uint64':
        out[i] = safeOrString(view.getBigUint64(i * 8, true));
        break;
      case 'bool':
        out[i] = bytes[i] !== 0;
        break;
    }
  }
  return { type, dims: [...dims], data: out };
}

function floatToJson(x: number, bits: number, type: 'float32' | 'float16'): JsonElement {
  if (Number.isNaN(x)) {
    if (bits === NAN_BITS[type][0]) return 'NaN';
    if (bits === NAN_BITS[type][1]) return '-NaN';
    return `NaN:0x${bits.toString(16).padStart(type === 'float32' ? 8 : 4, '0')}`;
  }
  if (Object.is(x, -0)) return '-0';
  return Number.isFinite(x) ? x : x > 0 ? 'Infinity' : '-Infinity';
}

function safeOrString(n: bigint): JsonElement {
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString();
}

/** Converts `{name: JsonTensor}` to tensors; throws InvalidTensorError naming the first bad tensor. */
export function tensorMapFromJson(json: unknown): Record<string, Tensor> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new InvalidTensorError('"inputs" must be an object mapping input names to tensors');
  }
  const out: Record<string, Tensor> = Object.create(null);
  for (const [name, value] of Object.entries(json)) out[name] = tensorFromJson(name, value);
  return out;
}

/** Converts named tensors to their JSON form. */
export function tensorMapToJson(tensors: TensorMap): Record<string, JsonTensor> {
  const out: Record<string, JsonTensor> = {};
  for (const [name, t] of Object.entries(tensors)) out[name] = tensorToJson(t);
  return out;
}
