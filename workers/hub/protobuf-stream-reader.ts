/**
 * Forward-only protobuf wire-format reading from a stream of chunks. core/onnx reads a model held in
 * memory; a model upload can be larger than a Worker's memory, so its graph is read as the bytes go
 * by: small fields are copied out, large ones (weights) skipped chunk by chunk.
 */
import { WireFormatError } from '../../core/onnx/protobuf-wire';

const EMPTY = new Uint8Array(0);

/** Wire types this reader understands (the groups of proto2, 3 and 4, are not used by ONNX). */
const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

/** A field's key: its number and wire type. */
export interface FieldKey {
  field: number;
  wireType: number;
}

/** Reads protobuf values from chunks handed out by `next` (null at the end of the stream). */
export class ProtobufStreamReader {
  private chunk: Uint8Array = EMPTY;
  private at = 0;
  private ended = false;
  /** How many bytes have been consumed so far. */
  offset = 0;

  constructor(private readonly next: () => Promise<Uint8Array | null>) {}

  /** True once every byte of the stream has been consumed. */
  async atEnd(): Promise<boolean> {
    return !(await this.fill());
  }

  /** The next field's key. */
  async key(): Promise<FieldKey> {
    const key = await this.varint();
    return { field: Number(key >> 3n), wireType: Number(key & 7n) };
  }

  /** A varint value. */
  async varint(): Promise<bigint> {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.at >= this.chunk.length && !(await this.fill())) throw new WireFormatError('truncated varint');
      const b = this.chunk[this.at++]!;
      this.offset++;
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
    }
    throw new WireFormatError('varint too long');
  }

  /** The length prefix of a length-delimited value. */
  async length(): Promise<number> {
    const n = await this.varint();
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new WireFormatError('length out of range');
    return Number(n);
  }

  /** The next `n` bytes, copied out of the stream. */
  async bytes(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      if (this.at >= this.chunk.length && !(await this.fill())) throw new WireFormatError('truncated length-delimited field');
      const take = Math.min(n - o, this.chunk.length - this.at);
      out.set(this.chunk.subarray(this.at, this.at + take), o);
      o += take;
      this.at += take;
      this.offset += take;
    }
    return out;
  }

  /** Skips `n` bytes without keeping them. */
  async skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.at >= this.chunk.length && !(await this.fill())) throw new WireFormatError('truncated field');
      const take = Math.min(left, this.chunk.length - this.at);
      this.at += take;
      this.offset += take;
      left -= take;
    }
  }

  /** Skips the value of a field whose key was just read. */
  async skipValue(wireType: number): Promise<void> {
    switch (wireType) {
      case VARINT:
        await this.varint();
        return;
      case FIXED64:
        return this.skip(8);
      case FIXED32:
        return this.skip(4);
      case LENGTH_DELIMITED:
        return this.skip(await this.length());
      default:
        throw new WireFormatError(`unsupported wire type ${wireType}`);
    }
  }

  /** Consumes the rest of the stream. */
  async drain(): Promise<void> {
    while (await this.fill()) {
      this.offset += this.chunk.length - this.at;
      this.at = this.chunk.length;
    }
  }

  // Makes sure a byte is available; false at the end of the stream.
  private async fill(): Promise<boolean> {
    while (this.at >= this.chunk.length) {
      if (this.ended) return false;
      const chunk = await this.next();
      if (chunk === null) {
        this.ended = true;
        return false;
      }
      this.chunk = chunk;
      this.at = 0;
    }
    return true;
  }
}

/** The wire type of length-delimited fields (strings, bytes, embedded messages). */
export const WIRE_LENGTH_DELIMITED = LENGTH_DELIMITED;
/** The wire type of varint fields. */
export const WIRE_VARINT = VARINT;
