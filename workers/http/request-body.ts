import { InvalidRequestError, ProofgateError } from '../../core/errors';

/** A request body larger than the endpoint accepts. */
export class PayloadTooLargeError extends ProofgateError {
  constructor(limit: number) {
    super('payload_too_large', `request body exceeds ${limit} bytes`, 413, { limitBytes: limit });
  }
}

/** Reads a request body, refusing it (413) as soon as it exceeds `limit` bytes, before buffering it all. */
export async function readBodyLimited(request: Request, limit: number): Promise<Uint8Array> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > limit) throw new PayloadTooLargeError(limit);
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new PayloadTooLargeError(limit);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
}

/** Parses a JSON body (size-limited), with a 400 `invalid_json` when it is not JSON. */
export async function readJsonBody(request: Request, limit: number): Promise<unknown> {
  const bytes = await readBodyLimited(request, limit);
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new InvalidRequestError('invalid_json', 'request body is not valid JSON');
  }
}

/** Reads a positive integer setting with a default. */
export function byteLimit(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
}
