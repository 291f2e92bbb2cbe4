import { encodeFieldKey, encodeLengthDelimited, encodeVarint } from '../core/onnx/protobuf-wire';
import type { TensorType } from '../core/tensors';

// Builds small ONNX models from code: the backend's CUDA probe and the test models need a handful of
// nodes, and no maintained npm package writes ONNX protobuf (the ones that exist decode, or wrap an
// outdated protobufjs). This writes the few ModelProto fields those models use.

/** A graph input/output: name, element type and dims (a string is a symbolic dim). */
export interface ValueSpec {
  name: string;
  type: TensorType;
  dims: (number | string)[];
}

/** A graph node: an operator with its inputs, outputs and integer/float attributes. */
export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attributes?: Record<string, number>;
}

/** A constant tensor of the graph (float32 only; enough for weights of test models). */
export interface InitializerSpec {
  name: string;
  dims: number[];
  values: number[];
}

/** What buildOnnxModel needs: a graph and the opset it targets. */
export interface ModelSpec {
  name: string;
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  nodes: NodeSpec[];
  initializers?: InitializerSpec[];
  opset?: number;
}

const ELEM_TYPE: Record<TensorType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  uint32: 12,
  uint64: 13,
};

const utf8 = new TextEncoder();

function bytesField(num: number, bytes: Uint8Array | number[]): number[] {
  return [...encodeLengthDelimited(num, bytes)];
}

function stringField(num: number, s: string): number[] {
  return bytesField(num, utf8.encode(s));
}

function intField(num: number, n: number): number[] {
  return [...encodeFieldKey(num, 0), ...encodeVarint(n)];
}

function valueInfo(v: ValueSpec): number[] {
  const dims = v.dims.flatMap((d) => bytesField(1, typeof d === 'number' ? intField(1, d) : stringField(2, d)));
  const tensorType = [...intField(1, ELEM_TYPE[v.type]), ...bytesField(2, dims)];
  return [...stringField(1, v.name), ...bytesField(2, bytesField(1, tensorType))];
}

function node(n: NodeSpec, index: number): number[] {
  const attrs = Object.entries(n.attributes ?? {}).flatMap(([name, value]) => {
    // AttributeProto: name=1, f=2 (fixed32), i=3, type=20 (FLOAT=1, INT=2)
    if (Number.isInteger(value)) return bytesField(5, [...stringField(1, name), ...intField(3, value), ...intField(20, 2)]);
    const f = new Uint8Array(new Float32Array([value]).buffer);
    return bytesField(5, [...stringField(1, name), ...encodeFieldKey(2, 5), ...f, ...intField(20, 1)]);
  });
  return [
    ...n.inputs.flatMap((i) => stringField(1, i)),
    ...n.outputs.flatMap((o) => stringField(2, o)),
    ...stringField(3, `${n.op.toLowerCase()}_${index}`),
    ...stringField(4, n.op),
    ...attrs,
  ];
}

function initializer(t: InitializerSpec): number[] {
  const raw = new Uint8Array(new Float32Array(t.values).buffer);
  return [...t.dims.flatMap((d) => intField(1, d)), ...intField(2, 1), ...stringField(8, t.name), ...bytesField(9, raw)];
}

/** Serializes a model spec to ONNX bytes (IR version 8). */
export function buildOnnxModel(spec: ModelSpec): Uint8Array {
  const graph = [
    ...spec.nodes.flatMap((n, i) => bytesField(1, node(n, i))),
    ...stringField(2, spec.name),
    ...(spec.initializers ?? []).flatMap((t) => bytesField(5, initializer(t))),
    ...spec.inputs.flatMap((v) => bytesField(11, valueInfo(v))),
    ...spec.outputs.flatMap((v) => bytesField(12, valueInfo(v))),
  ];
  const model = [
    ...intField(1, 8),
    ...stringField(2, 'proofgate'),
    ...bytesField(7, graph),
    ...bytesField(8, [...stringField(1, ''), ...intField(2, spec.opset ?? 17)]),
  ];
  return new Uint8Array(model);
}
