import * as ort from 'onnxruntime-node';
import { TYPED_ARRAY_OF, type Tensor, type TensorType } from '../core/tensors';

// Proofgate tensors hold little-endian bytes; onnxruntime wants typed arrays in host order. Every
// platform onnxruntime-node ships for is little-endian, so the bytes are reinterpreted, not swapped,
// and no element is touched in JavaScript.

/** Converts a Proofgate tensor to an onnxruntime tensor: a view of its bytes, copied only when they are not aligned. */
export function toOrtTensor(t: Tensor): ort.Tensor {
  const Ctor = TYPED_ARRAY_OF[t.type];
  const data = t.data.byteOffset % Ctor.BYTES_PER_ELEMENT === 0 ? t.data : t.data.slice();
  const view = new Ctor(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength / Ctor.BYTES_PER_ELEMENT);
  return new ort.Tensor(t.type, view as never, [...t.dims]);
}

/** Converts an onnxruntime output to a Proofgate tensor (a view, no copy); throws for types Proofgate does not carry. */
export function fromOrtTensor(name: string, t: ort.Tensor): Tensor {
  const type = t.type as TensorType;
  if (!(type in TYPED_ARRAY_OF)) throw new Error(`output "${name}" has type ${t.type}, which Proofgate cannot carry`);
  const data = t.data as unknown as ArrayBufferView;
  return { type, dims: t.dims.map(Number), data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}
