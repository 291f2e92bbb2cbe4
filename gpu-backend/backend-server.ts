import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Hex, LocalAccount } from 'viem';
import { GATEWAY_HEADERS, verifyGatewayRequest } from '../core/backend-protocol';
import { ProofgateError } from '../core/errors';
import { receiptTypedData, type ReceiptFields } from '../core/receipts';
import { TENSORS_MEDIA_TYPE, decodeTensors, encodeTensors } from '../core/tensors';
import { ModelInputError, type SessionPool } from './session-pool';

/** What the backend's HTTP server needs. `authKey()` is null until the gateway has accepted registration. */
export interface BackendServerOptions {
  account: LocalAccount;
  sessions: SessionPool;
  executionProvider: string;
  authKey: () => Hex | null;
  maxBodyBytes?: number;
  log?: (line: string) => void;
}

/** Counts calls being served (reported in heartbeats). */
export interface BackendServer {
  server: Server;
  inFlight: () => number;
}

class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

// Request ids seen recently: a captured gateway request replayed inside the freshness window is refused.
const REPLAY_WINDOW_MS = 2 * 60_000;

/** Creates the backend's HTTP server: `POST /v1/run` (gateway-authenticated) and `GET /healthz`. */
export function createBackendServer(opts: BackendServerOptions): BackendServer {
  let inFlight = 0;
  const seen = new Map<string, number>();
  const maxBody = opts.maxBodyBytes ?? 64 * 1024 * 1024;

  const handleRun = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const received = performance.now();
    const authKey = opts.authKey();
    if (!authKey) throw new HttpError(503, 'not_registered', 'backend is not registered with a gateway yet');
    const requestId = header(req, GATEWAY_HEADERS.requestId) as Hex;
    const modelSha256 = header(req, GATEWAY_HEADERS.modelSha256) as Hex;
    const timestamp = Number(header(req, GATEWAY_HEADERS.timestamp));
    const signature = header(req, GATEWAY_HEADERS.signature);
    if (!/^0x[0-9a-f]{64}$/.test(requestId) || !/^0x[0-9a-f]{64}$/.test(modelSha256)) {
      throw new HttpError(400, 'invalid_request', 'request id and model hash must be 0x-hex bytes32');
    }
    const body = await readBody(req, maxBody);
    const bodySha256 = `0x${createHash('sha256').update(body).digest('hex')}` as Hex;
    const now = Date.now();
    const authentic = await verifyGatewayRequest(authKey, { method: 'POST', path: '/v1/run', requestId, modelSha256, bodySha256, timestamp }, signature, now);
    if (!authentic) throw new HttpError(401, 'unauthorized', 'request is not signed by the gateway, or is stale');
    for (const [id, at] of seen) if (at < now - REPLAY_WINDOW_MS) seen.delete(id);
    if (seen.has(requestId)) throw new HttpError(409, 'replayed_request', 'request id was already served');
    seen.set(requestId, now);

    const inputs = decodeTensors(body);
    let result;
    try {
      result = await opts.sessions.run(modelSha256, inputs);
    } catch (err) {
      if (err instanceof ModelInputError) throw new HttpError(422, err.code, err.message);
      throw err;
    }
    const outputBytes = encodeTensors(result.outputs);
    const fields: ReceiptFields = {
      requestId,
      modelSha256,
      inputHash: bodySha256,
      outputHash: `0x${createHash('sha256').update(outputBytes).digest('hex')}`,
      backend: opts.account.address,
      executionProvider: opts.executionProvider,
      issuedAt: Math.floor(Date.now() / 1000),
    };
    const receiptSignature = await opts.account.signTypedData(receiptTypedData(fields));
    const totalMs = performance.now() - received;
    const receipt = { ...fields, timings: { queueMs: round(result.queueMs), runMs: round(result.runMs), totalMs: round(totalMs) }, signature: receiptSignature };
    res.writeHead(200, {
      'content-type': TENSORS_MEDIA_TYPE,
      'content-length': outputBytes.byteLength,
      [GATEWAY_HEADERS.receipt]: Buffer.from(JSON.stringify(receipt)).toString('base64url'),
    });
    res.end(outputBytes);
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') {
      sendJson(res, 200, { ok: true, registered: opts.authKey() !== null, executionProvider: opts.executionProvider, inFlight });
      return;
    }
    if (req.method !== 'POST' || path !== '/v1/run') {
      sendJson(res, 404, { error: { code: 'not_found', message: `no route for ${req.method} ${path}` } });
      return;
    }
    inFlight++;
    handleRun(req, res)
      .catch((err: unknown) => {
        const e = err instanceof HttpError ? err
          : err instanceof ProofgateError ? new HttpError(err.status, err.code, err.message)
          : new HttpError(500, 'backend_error', err instanceof Error ? err.message : String(err));
        if (e.status >= 500) opts.log?.(`run failed: ${e.message}`);
        if (!res.headersSent) sendJson(res, e.status, { error: { code: e.code, message: e.message } });
        else res.destroy();
      })
      .finally(() => { inFlight--; });
  });
  return { server, inFlight: () => inFlight };
}

function header(req: IncomingMessage, name: string): string {
  const v = req.headers[name];
  return (Array.isArray(v) ? v[0] : v) ?? '';
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
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
