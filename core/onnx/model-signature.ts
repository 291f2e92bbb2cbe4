import { ProofgateError } from '../errors';
import type { TensorType } from '../tensors';
import { readFields, WireFormatError } from './protobuf-wire';

/** One declared input or output of a model: a dim is a fixed size or null when symbolic; dims is null when the rank is unknown. */
export interface TensorSpec {
  name: string;
  type: TensorType;
  dims: (number | null)[] | null;
}

/** What the hub records of a model: its declared inputs and outputs, read from the ONNX graph. */
export interface ModelSignature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

/** The uploaded bytes are not an ONNX model Proofgate can serve. */
export class InvalidModelError extends ProofgateError {
  constructor(message: string) {
    super('invalid_model', message, 400);
  }
}

// onnx.TensorProto.DataType values of the types onnxruntime exposes to JavaScript.
const ELEM_TYPES: Readonly<Record<number, TensorType>> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  9: 'bool',
  10: 'float16',
  12: 'uint32',
  13: 'uint64',
};
const ELEM_TYPE_NAMES: Readonly<Record<number, string>> = { 8: 'string', 11: 'double', 14: 'complex64', 15: 'complex128', 16: 'bfloat16' };

const utf8 = new TextDecoder();

/**
 * Reads the graph inputs (initializers excluded) and outputs of an ONNX model with their element
 * types and shapes. Throws InvalidModelError when the bytes are not an ONNX model or use a type
 * onnxruntime cannot exchange with JavaScript.
 */
export function readModelSignature(model: Uint8Array): ModelSignature {
  try {
    let graph: Uint8Array | undefined;
    let irVersion = 0n;
    for (const f of readFields(model)) {
      if (f.field === 1 && f.wireType === 0) irVersion = f.varint;
      if (f.field === 7 && f.wireType === 2) graph = f.bytes;
    }
    if (!graph || irVersion === 0n) throw new InvalidModelError('not an ONNX model: no ir_version or graph');
    const initializers = new Set<string>();
    const inputs: TensorSpec[] = [];
    const outputs: TensorSpec[] = [];
    for (const f of readFields(graph)) {
      if (f.wireType !== 2) continue;
      if (f.field === 5) initializers.add(readName(f.bytes));
      else if (f.field === 11) inputs.push(readValueInfo(f.bytes));
      else if (f.field === 12) outputs.push(readValueInfo(f.bytes));
    }
    const realInputs = inputs.filter((i) => !initializers.has(i.name));
    if (outputs.length === 0) throw new InvalidModelError('ONNX graph declares no outputs');
    return { inputs: realInputs, outputs };
  } catch (err) {
    if (err instanceof WireFormatError) throw new InvalidModelError(`not an ONNX model: ${err.message}`);
    throw err;
  }
}

function readName(tensorProto: Uint8Array): string {
  for (const f of readFields(tensorProto)) if (f.field === 8 && f.wireType === 2) return utf8.decode(f.bytes);
  return '';
}

function readValueInfo(buf: Uint8Array): TensorSpec {
  let name = '';
  let typeProto: Uint8Array | undefined;
  for (const f of readFields(buf)) {
    if (f.field === 1 && f.wireType === 2) name = utf8.decode(f.bytes);
    if (f.field === 2 && f.wireType === 2) typeProto = f.bytes;
  }
  let tensorType: Uint8Array | undefined;
  for (const f of readFields(typeProto ?? new Uint8Array())) if (f.field === 1 && f.wireType === 2) tensorType = f.bytes;
  if (!tensorType) throw new InvalidModelError(`value "${name}" is not a tensor (sequences and maps are not supported)`);
  let elemType = 0;
  let shape: Uint8Array | undefined;
  for (const f of readFields(tensorType)) {
    if (f.field === 1 && f.wireType === 0) elemType = Number(f.varint);
    if (f.field === 2 && f.wireType === 2) shape = f.bytes;
  }
  const type = ELEM_TYPES[elemType];
  if (!type) {
    const what = ELEM_TYPE_NAMES[elemType] ?? `element type ${elemType}`;
    throw new InvalidModelError(`value "${name}" has type ${what}, which Proofgate cannot serve`);
  }
  if (!shape) return { name, type, dims: null };
  const dims: (number | null)[] = [];
  for (const f of readFields(shape)) {
    if (f.field !== 1 || f.wireType !== 2) continue;
    let dim: number | null = null;
    for (const d of readFields(f.bytes)) if (d.field === 1 && d.wireType === 0) dim = Number(BigInt.asIntN(64, d.varint));
    dims.push(dim !== null && dim >= 0 ? dim : null);
  }
  return { name, type, dims };
}
