import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Hex } from 'viem';
import { GATEWAY_HEADERS, verifyGatewayRequest } from '../core/backend-protocol';
import { ProofgateError } from '../core/errors';

// The HTTP side the inference backend and the policy operator share: both serve only requests the
// gateway signed (see core/backend-protocol/gateway-request-auth.ts), and answer errors as JSON.

/** An error answered with its status and `{"error": {"code", "message"}}`. */
export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** A gateway request whose HMAC, freshness and uniqueness were checked. */
export interface AuthenticatedRequest {
  /** The request id (inference) or task id (operator). */
  requestId: Hex;
  /** The model hash (inference) or policy id (operator) the request was signed for. */
  subject: Hex;
  body: Uint8Array;
  bodySha256: Hex;
}

/**
 * Checks that requests come from the gateway: the HMAC over method, path, ids, body hash and
 * timestamp under the key the gateway handed out at registration (null before it), a fresh
 * timestamp, and a request id not seen on this path within `replayWindowMs`.
 */
export class GatewayRequestVerifier {
  private readonly seen = new Map<string, number>();

  constructor(private readonly authKey: () => Hex | null, private readonly replayWindowMs: number, private readonly maxBodyBytes: number) {}

  /** Reads and authenticates a POST to `path`; throws HttpError (503, 400, 401, 409, 413). */
  async read(req: IncomingMessage, path: string): Promise<AuthenticatedRequest> {
    const authKey = this.authKey();
    if (!authKey) throw new HttpError(503, 'not_registered', 'not registered with a gateway yet');
    const requestId = header(req, GATEWAY_HEADERS.requestId) as Hex;
    const subject = header(req, GATEWAY_HEADERS.modelSha256) as Hex;
    if (!/^0x[0-9a-f]{64}$/.test(requestId) || !/^0x[0-9a-f]{64}$/.test(subject)) {
      throw new HttpError(400, 'invalid_request', 'request ids and hashes must be 0x-hex bytes32');
    }
    const body = await readBody(req, this.maxBodyBytes);
    const bodySha256 = `0x${createHash('sha256').update(body).digest('hex')}` as Hex;
    const now = Date.now();
    const authentic = await verifyGatewayRequest(authKey, {
      method: 'POST', path, requestId, modelSha256: subject, bodySha256, timestamp: Number(header(req, GATEWAY_HEADERS.timestamp)),
    }, header(req, GATEWAY_HEADERS.signature), now);
    if (!authentic) throw new HttpError(401, 'unauthorized', 'request is not signed by the gateway, or is stale');
    for (const [id, at] of this.seen) if (at < now - this.replayWindowMs) this.seen.delete(id);
    const key = `${path} ${requestId}`;
    if (this.seen.has(key)) throw new HttpError(409, 'replayed_request', 'this request was already served');
    this.seen.set(key, now);
    return { requestId, subject, body, bodySha256 };
  }
}

/** The first value of a request header, or ''. */
export function header(req: IncomingMessage, name: string): string {
  const v = req.headers[name];
  return (Array.isArray(v) ? v[0] : v) ?? '';
}

/** Answers JSON. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Answers a failed request: known errors with their status and code, others as 500 `fallbackCode` (logged). */
export function sendError(res: ServerResponse, err: unknown, fallbackCode: string, log?: (line: string) => void): void {
  const e = err instanceof HttpError ? err
    : err instanceof ProofgateError ? new HttpError(err.status, err.code, err.message)
    : new HttpError(500, fallbackCode, err instanceof Error ? err.message : String(err));
  if (e.status >= 500) log?.(`request failed: ${e.message}`);
  if (!res.headersSent) sendJson(res, e.status, { error: { code: e.code, message: e.message } });
  else res.destroy();
}

async function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, 'payload_too_large', `body exceeds ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return new Uint8Array(Buffer.concat(chunks));
}
