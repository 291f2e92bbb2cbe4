import { ELEMENT_SIZE, InvalidTensorError, elementCount, isTensorType, type Tensor, type TensorMap, type TensorType } from './tensor';

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

/** The header part of one tensor in the canonical encoding: what can be checked before its data is read. */
export interface TensorHeader {
  name: string;
  type: TensorType;
  dims: number[];
  /** Length of the element data in bytes (equal to elements × element size). */
  byteLength: number;
}

/** A parsed header and where its tensor's data starts in the encoding. */
export interface ParsedTensorHeader extends TensorHeader {
  nameBytes: Uint8Array;
  dataOffset: number;
}

/**
 * Parses the header of the tensor record starting at `offset` of `bytes`, which may hold only a
 * prefix of the encoding: null when the header is not complete yet. Throws InvalidTensorError for a
 * header that is malformed in itself (unknown type, too many dims, a length that disagrees with
 * type and dims); `previousName` enforces the canonical order.
 */
export function parseTensorHeader(bytes: Uint8Array, offset: number, previousName?: Uint8Array): ParsedTensorHeader | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = offset;
  const have = (n: number): boolean => o + n <= bytes.length;
  const u64 = (): number => {
    const v = view.getBigUint64(o, true);
    o += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidTensorError('tensor encoding has an oversized length');
    return Number(v);
  };
  if (!have(4)) return null;
  const nameLen = view.getUint32(o, true);
  o += 4;
  if (nameLen > MAX_NAME_BYTES) throw new InvalidTensorError(`tensor encoding has a name longer than ${MAX_NAME_BYTES} bytes`);
  if (!have(nameLen + 1)) return null;
  const nameBytes = bytes.subarray(o, o + nameLen);
  o += nameLen;
  if (previousName && compareBytes(previousName, nameBytes) >= 0) {
    throw new InvalidTensorError('tensor encoding is not canonical: names must be unique and in byte order');
  }
  let name: string;
  try {
    name = utf8Strict.decode(nameBytes);
  } catch {
    throw new InvalidTensorError('tensor encoding has a name that is not UTF-8');
  }
  const typeLen = bytes[o++]!;
  if (!have(typeLen + 4)) return null;
  const type = String.fromCharCode(...bytes.subarray(o, o + typeLen));
  o += typeLen;
  if (!isTensorType(type)) throw new InvalidTensorError(`tensor "${name}": unknown type ${JSON.stringify(type)}`);
  const ndims = view.getUint32(o, true);
  o += 4;
  if (ndims > MAX_DIMS) throw new InvalidTensorError(`tensor "${name}": at most ${MAX_DIMS} dimensions`);
  if (!have(8 * ndims + 8)) return null;
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(u64());
  const byteLength = u64();
  const elements = elementCount(dims);
  if (!Number.isSafeInteger(elements) || byteLength !== elements * ELEMENT_SIZE[type]) {
    throw new InvalidTensorError(`tensor "${name}": ${byteLength} data bytes do not fit ${type}[${dims.join(', ')}]`);
  }
  return { name, nameBytes, type, dims, byteLength, dataOffset: o };
}

/** Most bytes a tensor name may have in the encoding. */
export const MAX_NAME_BYTES = 4096;
/** Most dimensions a tensor may have. */
export const MAX_DIMS = 16;

/** Bytes the canonical encoding of one tensor takes besides its data. */
export function tensorHeaderBytes(nameBytes: number, type: TensorType, ndims: number): number {
  return 4 + nameBytes + 1 + type.length + 4 + 8 * ndims + 8;
}

/**
 * Decodes the canonical encoding, rejecting anything that is not canonical (unsorted or duplicate
 * names, trailing bytes, byte lengths that disagree with type and dims) so that one tensor set has
 * exactly one encoding and therefore one hash. Tensor data are views into `bytes`. `onHeader` sees
 * each tensor's header before its data is touched, and may throw.
 */
export function decodeTensors(bytes: Uint8Array, onHeader?: (header: TensorHeader) => void): Record<string, Tensor> {
  if (bytes.length < 4) throw new InvalidTensorError('tensor encoding is truncated');
  const count = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  const out: Record<string, Tensor> = Object.create(null);
  let o = 4;
  let previous: Uint8Array | undefined;
  for (let k = 0; k < count; k++) {
    const header = parseTensorHeader(bytes, o, previous);
    if (!header || header.dataOffset + header.byteLength > bytes.length) throw new InvalidTensorError('tensor encoding is truncated');
    onHeader?.(header);
    previous = header.nameBytes;
    out[header.name] = { type: header.type, dims: header.dims, data: bytes.subarray(header.dataOffset, header.dataOffset + header.byteLength) };
    o = header.dataOffset + header.byteLength;
  }
  if (o !== bytes.length) throw new InvalidTensorError('tensor encoding has trailing bytes');
  return out;
}
