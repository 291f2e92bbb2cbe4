// A minimal protobuf wire-format reader. The ONNX protobuf libraries on npm decode a whole ModelProto,
// weights included, into objects; the Worker only needs the graph's inputs and outputs, so it walks the
// wire format and skips every other field (megabytes of weights) without copying it.

/** A field read from a protobuf message: its number, wire type and value (varint or bytes view). */
export interface WireField {
  readonly field: number;
  readonly wireType: number;
  readonly varint: bigint;
  readonly bytes: Uint8Array;
}

/** A message that is not valid protobuf wire format. */
export class WireFormatError extends Error {
  readonly code = 'invalid_protobuf';
}

const EMPTY = new Uint8Array(0);

/** Iterates the fields of one protobuf message. Length-delimited values are views, not copies. */
export function* readFields(buf: Uint8Array): Generator<WireField> {
  let o = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (o >= buf.length) throw new WireFormatError('truncated varint');
      const b = buf[o++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
    }
    throw new WireFormatError('varint too long');
  };
  while (o < buf.length) {
    const key = varint();
    const field = Number(key >> 3n);
    const wireType = Number(key & 7n);
    switch (wireType) {
      case 0:
        yield { field, wireType, varint: varint(), bytes: EMPTY };
        break;
      case 1:
      case 5: {
        const n = wireType === 1 ? 8 : 4;
        if (o + n > buf.length) throw new WireFormatError('truncated fixed field');
        yield { field, wireType, varint: 0n, bytes: buf.subarray(o, o + n) };
        o += n;
        break;
      }
      case 2: {
        const len = Number(varint());
        if (o + len > buf.length) throw new WireFormatError('truncated length-delimited field');
        yield { field, wireType, varint: 0n, bytes: buf.subarray(o, o + len) };
        o += len;
        break;
      }
      default:
        throw new WireFormatError(`unsupported wire type ${wireType}`);
    }
  }
}

/** A protobuf varint (unsigned LEB128 of the value's 64-bit two's complement), as bytes. */
export function encodeVarint(n: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
}

/** A field's key: its number and wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32). */
export function encodeFieldKey(field: number, wireType: number): number[] {
  return encodeVarint((BigInt(field) << 3n) | BigInt(wireType));
}

/** A length-delimited field (bytes, string or embedded message). */
export function encodeLengthDelimited(field: number, value: ArrayLike<number>): Uint8Array {
  return Uint8Array.from([...encodeFieldKey(field, 2), ...encodeVarint(value.length), ...Array.from(value)]);
}
