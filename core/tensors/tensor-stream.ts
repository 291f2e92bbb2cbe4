import { ProofgateError } from '../errors';
import { InvalidTensorError } from './tensor';
import { parseTensorHeader, type TensorHeader } from './tensor-codec';

/** What `readTensorStream` needs: the byte cap, a size hint, and the check each header must pass. */
export interface TensorStreamOptions {
  /** Most bytes the body may have: more is refused (413), and so is a header declaring more. */
  maxBytes: number;
  /** The body's declared length (Content-Length), to allocate once; it is not trusted otherwise. */
  sizeHint?: number;
  /** Sees each tensor's header as soon as it has arrived, before its data is read; may throw. */
  onHeader: (header: TensorHeader) => void;
}

/** A body longer than allowed, or a tensor header that declares more data than the body may hold. */
export class TensorBodyTooLargeError extends ProofgateError {
  constructor(maxBytes: number, what: string) {
    super('payload_too_large', `${what} exceeds the ${maxBytes}-byte limit for this call`, 413, { limitBytes: maxBytes });
  }
}

/**
 * Reads a body in the canonical tensor encoding from a stream, checking each tensor's header (name,
 * type, dims, length) the moment it arrives: a bad header or one declaring more bytes than the cap
 * is refused before the rest of the body is read, so no request makes the reader buffer more than
 * the cap allows. Returns the whole encoding, checked to be canonical (order, no trailing bytes).
 */
export async function readTensorStream(body: ReadableStream<Uint8Array> | null, opts: TensorStreamOptions): Promise<Uint8Array> {
  const declared = opts.sizeHint !== undefined && Number.isSafeInteger(opts.sizeHint) && opts.sizeHint >= 0 ? opts.sizeHint : undefined;
  if (declared !== undefined && declared > opts.maxBytes) throw new TensorBodyTooLargeError(opts.maxBytes, `the declared body length ${declared}`);
  let buf = new Uint8Array(Math.max(4, declared ?? Math.min(64 * 1024, opts.maxBytes)));
  let length = 0;
  let count = -1;
  let parsed = 0;
  let next = 4;
  let previous: Uint8Array | undefined;

  // Parses every header whose bytes have arrived; stops inside a header or a tensor's data.
  const advance = (): void => {
    if (count < 0) {
      if (length < 4) return;
      count = new DataView(buf.buffer).getUint32(0, true);
    }
    while (parsed < count && next <= length) {
      const header = parseTensorHeader(buf.subarray(0, length), next, previous);
      if (!header) return;
      const end = header.dataOffset + header.byteLength;
      if (end > opts.maxBytes) throw new TensorBodyTooLargeError(opts.maxBytes, `tensor "${header.name}" (${header.byteLength} data bytes)`);
      opts.onHeader(header);
      previous = header.nameBytes.slice();
      next = end;
      parsed++;
    }
    if (parsed === count && length > next) throw new InvalidTensorError('tensor encoding has trailing bytes');
  };

  const reader = body?.getReader();
  try {
    while (reader) {
      const { done, value } = await reader.read();
      if (done) break;
      if (length + value.byteLength > opts.maxBytes) throw new TensorBodyTooLargeError(opts.maxBytes, 'the body');
      if (length + value.byteLength > buf.length) {
        const grown = new Uint8Array(Math.min(opts.maxBytes, Math.max(buf.length * 2, length + value.byteLength)));
        grown.set(buf.subarray(0, length));
        buf = grown;
      }
      buf.set(value, length);
      length += value.byteLength;
      advance();
    }
  } catch (err) {
    void reader?.cancel().catch(() => undefined); // not awaited: a client still sending must not hold the refusal back
    throw err;
  }
  advance();
  if (count < 0 || parsed < count || next > length) throw new InvalidTensorError('tensor encoding is truncated');
  return buf.subarray(0, length);
}
