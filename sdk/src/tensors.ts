/**
 * Tensors as an application holds them (typed arrays) and as Proofgate moves and hashes them
 * (raw little-endian bytes, core/tensors). Inputs may be given either way, or as JSON tensors.
 */
import {
  ELEMENT_SIZE,
  InvalidTensorError,
  checkDims,
  elementCount,
  encodeTensors,
  isTensorType,
  tensorFromJson,
  TYPED_ARRAY_OF,
  type Tensor,
  type TensorType,
  type TypedArray,
  type TypedArrayOf,
} from '../../core/tensors';

export type { TypedArray, TypedArrayOf } from '../../core/tensors';

/** A tensor with its elements in a typed array: what `infer` returns as outputs. */
export interface TypedTensor<T extends TensorType = TensorType> {
  type: T;
  dims: number[];
  data: TypedArrayOf[T];
}

/**
 * What `infer` and the verifiers accept for one tensor:
 * - `{dims, data: Float32Array | Int32Array | BigInt64Array | …}`: the type follows the array
 *   (`type` may say `float16` for a Uint16Array of bits, or `bool` for a Uint8Array);
 * - `{type, dims, data: Uint8Array}` with raw little-endian bytes (core's Tensor);
 * - `{type, dims, data: [...]}`: the lossless JSON form.
 */
export type TensorInput =
  | { type?: TensorType; dims: readonly number[]; data: TypedArray | Float16ArrayLike }
  | Tensor
  | { type: TensorType; dims: readonly number[]; data: readonly (number | string | boolean)[] };

/** Named tensor inputs. */
export type TensorInputs = Readonly<Record<string, TensorInput>>;

// Float16Array exists in newer engines only; its bytes are binary16 like a Uint16Array of bits.
type Float16ArrayLike = ArrayBufferView & { readonly length: number; readonly BYTES_PER_ELEMENT: 2 };

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function typeOfArray(data: ArrayBufferView): TensorType | undefined {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array || data instanceof Uint8ClampedArray) return 'uint8';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Uint16Array) return 'uint16';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint32Array) return 'uint32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof BigUint64Array) return 'uint64';
  if (data.constructor?.name === 'Float16Array') return 'float16';
  return undefined;
}

/** Converts one input to core's byte form, checking that type, dims and data agree. */
export function toTensor(name: string, input: TensorInput): Tensor {
  const { data } = input;
  if (Array.isArray(data)) return tensorFromJson(name, input);
  if (!ArrayBuffer.isView(data)) throw new InvalidTensorError(`tensor "${name}": data must be a typed array or an array`, { tensor: name });
  const dims = checkDims(name, [...input.dims]);
  const declared = input.type;
  if (declared !== undefined && !isTensorType(declared)) throw new InvalidTensorError(`tensor "${name}": unknown type ${JSON.stringify(declared)}`);
  // A Uint8Array holds raw bytes for any type (for uint8 and bool, bytes and elements are the same).
  const arrayType = typeOfArray(data);
  const raw = data instanceof Uint8Array && declared !== undefined;
  let type: TensorType;
  if (raw) type = declared;
  else if (declared === 'float16' && (arrayType === 'uint16' || arrayType === 'float16')) type = 'float16';
  else if (arrayType === undefined) throw new InvalidTensorError(`tensor "${name}": unsupported array ${data.constructor?.name}`, { tensor: name });
  else if (declared !== undefined && declared !== arrayType) {
    throw new InvalidTensorError(`tensor "${name}": type ${declared} does not match a ${data.constructor?.name}`, { tensor: name });
  } else type = arrayType;
  const bytes = raw ? (data as Uint8Array) : bytesOf(data);
  if (bytes.byteLength !== elementCount(dims) * ELEMENT_SIZE[type]) {
    throw new InvalidTensorError(`tensor "${name}": ${type}[${dims.join(', ')}] needs ${elementCount(dims)} elements`, { tensor: name });
  }
  if (type === 'bool' && bytes.some((b) => b > 1)) throw new InvalidTensorError(`tensor "${name}": bool elements must be 0 or 1`, { tensor: name });
  return { type, dims, data: bytes };
}

/** Converts named inputs to core's byte form. */
export function toTensors(inputs: TensorInputs): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, input] of Object.entries(inputs)) out[name] = toTensor(name, input);
  return out;
}

/** The canonical encoding (what inputHash/outputHash hash) of named inputs. */
export function encodeInputs(inputs: TensorInputs): Uint8Array {
  return encodeTensors(toTensors(inputs));
}

/** A tensor's elements as their typed array (a copy, aligned). */
export function toTypedTensor(tensor: Tensor): TypedTensor {
  const { type, dims, data } = tensor;
  const copy = data.slice().buffer;
  const Ctor = TYPED_ARRAY_OF[type];
  return { type, dims: [...dims], data: new Ctor(copy) } as TypedTensor;
}

/** Named tensors as typed arrays. */
export function toTypedTensors(tensors: Readonly<Record<string, Tensor>>): Record<string, TypedTensor> {
  const out: Record<string, TypedTensor> = {};
  for (const [name, t] of Object.entries(tensors)) out[name] = toTypedTensor(t);
  return out;
}

// Element bytes in little-endian order: every platform JavaScript runs on is little-endian, and the
// typed array's own bytes are then exactly the wire bytes; a big-endian one is refused, not mangled.
function bytesOf(data: ArrayBufferView): Uint8Array {
  if (!LITTLE_ENDIAN) throw new InvalidTensorError('big-endian platforms are not supported');
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
