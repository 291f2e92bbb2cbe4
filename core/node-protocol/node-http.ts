/**
 * The HTTP plumbing both kinds of node (inference backend, signer node) share, written against the
 * few members of Node's `IncomingMessage` / `ServerResponse` they use, so it stays free of Node
 * built-ins and lives once, in core.
 */
import { ProofgateError } from '../errors';

/** The part of Node's `IncomingMessage` the nodes read. */
export interface NodeRequestLike extends AsyncIterable<Uint8Array> {
  headers: Record<string, string | string[] | undefined>;
}

/** The part of Node's `ServerResponse` the nodes write. */
export interface NodeResponseLike {
  readonly headersSent: boolean;
  writeHead(status: number, headers: Record<string, string | number>): unknown;
  end(body?: Uint8Array | string): unknown;
  destroy(): unknown;
}

const utf8 = new TextEncoder();

/** The first value of a request header, or ''. */
export function requestHeader(req: NodeRequestLike, name: string): string {
  const v = req.headers[name];
  return (Array.isArray(v) ? v[0] : v) ?? '';
}

/**
 * Reads a request body, refusing it (413) as soon as it exceeds `limit` bytes. The bytes come back
 * in a fresh buffer of their own (offset 0), so typed-array views of tensor data are aligned.
 */
export async function readBodyLimited(req: NodeRequestLike, limit: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.byteLength;
    if (size > limit) throw new ProofgateError('payload_too_large', `body exceeds ${limit} bytes`, 413);
    chunks.push(chunk);
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

/** Answers JSON. */
export function sendJson(res: NodeResponseLike, status: number, body: unknown): void {
  const bytes = utf8.encode(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': bytes.byteLength });
  res.end(bytes);
}

/**
 * Answers a failed request: a ProofgateError with its status and code; anything else as a 500
 * `fallbackCode` whose text is logged but never sent (error bodies do not echo internals).
 */
export function sendError(res: NodeResponseLike, err: unknown, fallbackCode: string, log?: (line: string) => void): void {
  const e = err instanceof ProofgateError ? err : new ProofgateError(fallbackCode, 'internal error', 500);
  if (e.status >= 500) log?.(`request failed: ${err instanceof Error ? err.message : String(err)}`);
  if (!res.headersSent) sendJson(res, e.status, { error: { code: e.code, message: e.message } });
  else res.destroy();
}
