import type { TensorMap } from './tensor';
import { tensorToJson } from './tensor-json';

// JSON text of tensors, equal to JSON.stringify(tensorMapToJson(tensors)) but without building an
// array of boxed numbers for float32 data, the common case of large outputs: a typed array's own
// join() writes the same shortest decimal form JSON.stringify uses for every finite number other
// than -0, and the few values JSON cannot carry as numbers send the tensor down the general path.

function float32Text(data: Uint8Array): string | null {
  const aligned = data.byteOffset % 4 === 0 ? data : data.slice();
  const values = new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v === 0 ? 1 / v < 0 : !Number.isFinite(v)) return null;
  }
  return `[${values.join(',')}]`;
}

/** `{"<name>": {"type", "dims", "data"}}` as JSON text (the reply's `outputs`). */
export function tensorMapToJsonText(tensors: TensorMap): string {
  const parts: string[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    const fast = t.type === 'float32' ? float32Text(t.data) : null;
    const text = fast ? `{"type":"float32","dims":${JSON.stringify(t.dims)},"data":${fast}}` : JSON.stringify(tensorToJson(t));
    parts.push(`${JSON.stringify(name)}:${text}`);
  }
  return `{${parts.join(',')}}`;
}
