import { InvalidRequestError } from '../../../core/errors';
import type { TensorSpec } from '../../../core/onnx';
import type { TensorType } from '../../../core/tensors';

// The Open Inference Protocol's names for tensor element types ("Tensor Data Types" of KServe's
// v2 protocol), and shapes as its metadata writes them (-1 for a variable-size dimension).

/** The protocol's datatype name of each tensor type Proofgate serves. */
export const KSERVE_DATATYPES: Readonly<Record<TensorType, string>> = {
  bool: 'BOOL',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  int8: 'INT8',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  float16: 'FP16',
  float32: 'FP32',
};

/**
 * Datatypes of the protocol that no served model has: onnxruntime's JavaScript API exchanges no
 * double or string tensors, so the hub refuses models with them at upload.
 */
export const UNSERVED_DATATYPES: readonly string[] = ['FP64', 'BYTES'];

const TENSOR_TYPE_OF: ReadonlyMap<string, TensorType> = new Map(
  (Object.entries(KSERVE_DATATYPES) as [TensorType, string][]).map(([type, datatype]) => [datatype, type]),
);

/** The protocol's name for a tensor type. */
export function kserveDatatype(type: TensorType): string {
  return KSERVE_DATATYPES[type];
}

/**
 * The tensor type a request's `datatype` names. Errors (400): `unsupported_datatype` for a datatype
 * of the protocol that no served model has (FP64, BYTES), `invalid_datatype` for anything else that
 * is not one of the protocol's names (they are case-sensitive).
 */
export function tensorTypeOf(tensor: string, datatype: unknown): TensorType {
  const type = typeof datatype === 'string' ? TENSOR_TYPE_OF.get(datatype) : undefined;
  if (type) return type;
  if (typeof datatype === 'string' && UNSERVED_DATATYPES.includes(datatype)) {
    throw new InvalidRequestError('unsupported_datatype', `input "${tensor}": no model here takes ${datatype} tensors`, { tensor, datatype });
  }
  throw new InvalidRequestError(
    'invalid_datatype',
    `input "${tensor}": datatype ${JSON.stringify(datatype)} is not one of ${[...TENSOR_TYPE_OF.keys(), ...UNSERVED_DATATYPES].join(', ')}`,
    { tensor },
  );
}

/**
 * A declared shape as the protocol's metadata writes it: -1 for a symbolic dimension; an unknown
 * rank (the graph declares none) as `[-1]`, the nearest the protocol can say.
 */
export function kserveShape(dims: TensorSpec['dims']): number[] {
  return dims === null ? [-1] : dims.map((d) => d ?? -1);
}

/** One input or output of a model as the protocol's `$metadata_tensor`. */
export function metadataTensor(spec: TensorSpec): { name: string; datatype: string; shape: number[] } {
  return { name: spec.name, datatype: kserveDatatype(spec.type), shape: kserveShape(spec.dims) };
}
