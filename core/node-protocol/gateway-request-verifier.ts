import type { Hex } from 'viem';
import { ProofgateError } from '../errors';
import { isSha256Id } from '../hex';
import { GATEWAY_HEADERS, verifyGatewayRequest } from './gateway-request-auth';
import { readBodyLimited, requestHeader, type NodeRequestLike } from './node-http';

/** A gateway request whose HMAC, freshness and uniqueness were checked. */
export interface AuthenticatedRequest {
  /** The request id (inference) or task id (task). */
  requestId: Hex;
  /** The model hash (inference) or policy id (task) the request was signed for. */
  subject: Hex;
  body: Uint8Array;
  bodySha256: Hex;
}

/**
 * Checks on a node (backend or signer node) that requests come from the gateway: the HMAC over
 * method, path, ids, body hash and timestamp under the key the gateway handed out at registration
 * (null before it), a fresh timestamp, and a request id not seen on this path within `replayWindowMs`.
 */
export class GatewayRequestVerifier {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly authKey: () => Hex | null,
    private readonly replayWindowMs: number,
    private readonly maxBodyBytes: number,
  ) {}

  /** Reads and authenticates a POST to `path`; throws ProofgateError (503, 400, 401, 409, 413). */
  async read(req: NodeRequestLike, path: string): Promise<AuthenticatedRequest> {
    const authKey = this.authKey();
    if (!authKey) throw new ProofgateError('not_registered', 'not registered with a gateway yet', 503);
    const requestId = requestHeader(req, GATEWAY_HEADERS.requestId) as Hex;
    const subject = requestHeader(req, GATEWAY_HEADERS.subject) as Hex;
    if (!isSha256Id(requestId) || !isSha256Id(subject)) {
      throw new ProofgateError('invalid_request', 'request ids and subjects must be lower-case 0x-hex bytes32', 400);
    }
    const body = await readBodyLimited(req, this.maxBodyBytes);
    const bodySha256 = await sha256(body);
    const now = Date.now();
    const authentic = await verifyGatewayRequest(
      authKey,
      {
        method: 'POST',
        path,
        requestId,
        subject,
        bodySha256,
        timestamp: Number(requestHeader(req, GATEWAY_HEADERS.timestamp)),
      },
      requestHeader(req, GATEWAY_HEADERS.signature),
      now,
    );
    if (!authentic) throw new ProofgateError('unauthorized', 'request is not signed by the gateway, or is stale', 401);
    for (const [id, at] of this.seen) if (at < now - this.replayWindowMs) this.seen.delete(id);
    const key = `${path} ${requestId}`;
    if (this.seen.has(key)) throw new ProofgateError('replayed_request', 'this request was already served', 409);
    this.seen.set(key, now);
    return { requestId, subject, body, bodySha256 };
  }
}

async function sha256(bytes: Uint8Array): Promise<Hex> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return `0x${Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}
