import { ProofgateError } from '../errors';

/** Element types a tensor may have: onnxruntime's names. */
export const TENSOR_TYPES = ['float32', 'float16', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'bool'] as const;

export type TensorType = (typeof TENSOR_TYPES)[number];

/** Bytes per element of each type (bool is one byte, 0 or 1; float16 is IEEE binary16). */
export const ELEMENT_SIZE: Readonly<Record<TensorType, number>> = {
  float32: 4,
  float16: 2,
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  uint64: 8,
  bool: 1,
};

/** The typed array that holds each element type (float16 as its IEEE binary16 bits; bool as 0/1 bytes), as onnxruntime takes them. */
export interface TypedArrayOf {
  float32: Float32Array;
  float16: Uint16Array;
  int8: Int8Array;
  uint8: Uint8Array;
  int16: Int16Array;
  uint16: Uint16Array;
  int32: Int32Array;
  uint32: Uint32Array;
  int64: BigInt64Array;
  uint64: BigUint64Array;
  bool: Uint8Array;
}

/** Any typed array a tensor may hold. */
export type TypedArray = TypedArrayOf[TensorType];

/** The constructor of each type's typed array (a view over little-endian element bytes on every platform JavaScript runs on). */
export const TYPED_ARRAY_OF: Readonly<
  Record<TensorType, { new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): TypedArray; BYTES_PER_ELEMENT: number }>
> = {
  float32: Float32Array,
  float16: Uint16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
};

/** A tensor as Proofgate moves and hashes it: raw little-endian element bytes, row-major. */
export interface Tensor {
  readonly type: TensorType;
  readonly dims: readonly number[];
  readonly data: Uint8Array;
}

/** Named tensors (a model's inputs or outputs). */
export type TensorMap = Readonly<Record<string, Tensor>>;

/** A tensor or tensor set that is malformed in itself (not with respect to a model). */
export class InvalidTensorError extends ProofgateError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('invalid_tensor', message, 400, details);
  }
}

/** True when `value` names a supported tensor element type. */
export function isTensorType(value: unknown): value is TensorType {
  return typeof value === 'string' && (TENSOR_TYPES as readonly string[]).includes(value);
}

/** Number of elements of a tensor with these dims (1 for a scalar). */
export function elementCount(dims: readonly number[]): number {
  let count = 1;
  for (const d of dims) count *= d;
  return count;
}
