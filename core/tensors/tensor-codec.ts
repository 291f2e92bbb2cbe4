import { ELEMENT_SIZE, InvalidTensorError, elementCount, isTensorType, type Tensor, type TensorMap } from './tensor';

/** Media type of the canonical binary tensor encoding (also the Worker↔backend transport). */
export const TENSORS_MEDIA_TYPE = 'application/vnd.proofgate.tensors';

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Compares two byte strings lexicographically (the canonical order of tensor names). */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/**
 * Canonical encoding of a tensor set, the preimage of inputHash/outputHash:
 * u32le(count), then per tensor in byte order of its UTF-8 name:
 * u32le(len(name)) name u8(len(type)) type u32le(ndims) u64le(dim)... u64le(len(bytes)) bytes.
 */
export function encodeTensors(tensors: TensorMap): Uint8Array {
  const entries = Object.entries(tensors).map(([name, t]) => ({ name: utf8.encode(name), t }));
  entries.sort((a, b) => compareBytes(a.name, b.name));
  let size = 4;
  for (const { name, t } of entries) size += 4 + name.length + 1 + t.type.length + 4 + 8 * t.dims.length + 8 + t.data.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let o = 0;
  view.setUint32(o, entries.length, true);
  o += 4;
  for (const { name, t } of entries) {
    view.setUint32(o, name.length, true);
    o += 4;
    out.set(name, o);
    o += name.length;
    out[o++] = t.type.length;
    for (let i = 0; i < t.type.length; i++) out[o++] = t.type.charCodeAt(i);
    view.setUint32(o, t.dims.length, true);
    o += 4;
    for (const d of t.dims) {
      view.setBigUint64(o, BigInt(d), true);
      o += 8;
    }
    view.setBigUint64(o, BigInt(t.data.length), true);
    o += 8;
    out.set(t.data, o);
    o += t.data.length;
  }
  return out;
}

/**
 * Decodes the canonical encoding, rejecting anything that is not canonical (unsorted or duplicate
 * names, trailing bytes, byte lengths that disagree with type and dims) so that one tensor set has
 * exactly one encoding and therefore one hash. Tensor data are views into `bytes`.
 */
export function decodeTensors(bytes: Uint8Array): Record<string, Tensor> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0;
  const need = (n: number): void => {
    if (o + n > bytes.length) throw new InvalidTensorError('tensor encoding is truncated');
  };
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(o, true);
    o += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidTensorError('tensor encoding has an oversized length');
    return Number(v);
  };
  need(4);
  const count = view.getUint32(o, true);
  o += 4;
  const out: Record<string, Tensor> = {};
  let previous: Uint8Array | undefined;
  for (let k = 0; k < count; k++) {
    need(4);
    const nameLen = view.getUint32(o, true);
    o += 4;
    need(nameLen);
    const nameBytes = bytes.subarray(o, o + nameLen);
    o += nameLen;
    if (previous && compareBytes(previous, nameBytes) >= 0) {
      throw new InvalidTensorError('tensor encoding is not canonical: names must be unique and in byte order');
    }
    previous = nameBytes;
    let name: string;
    try {
      name = utf8Strict.decode(nameBytes);
    } catch {
      throw new InvalidTensorError('tensor encoding has a name that is not UTF-8');
    }
    need(1);
    const typeLen = bytes[o++]!;
    need(typeLen);
    const type = String.fromCharCode(...bytes.subarray(o, o + typeLen));
    o += typeLen;
    if (!isTensorType(type)) throw new InvalidTensorError(`tensor "${name}": unknown type ${JSON.stringify(type)}`);
    need(4);
    const ndims = view.getUint32(o, true);
    o += 4;
    if (ndims > 16) throw new InvalidTensorError(`tensor "${name}": at most 16 dimensions`);
    const dims: number[] = [];
    for (let i = 0; i < ndims; i++) dims.push(u64());
    const byteLen = u64();
    if (byteLen !== elementCount(dims) * ELEMENT_SIZE[type]) {
      throw new InvalidTensorError(`tensor "${name}": ${byteLen} data bytes do not fit ${type}[${dims.join(', ')}]`);
    }
    need(byteLen);
    out[name] = { type, dims, data: bytes.subarray(o, o + byteLen) };
    o += byteLen;
  }
  if (o !== bytes.length) throw new InvalidTensorError('tensor encoding has trailing bytes');
  return out;
}
