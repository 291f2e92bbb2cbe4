import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Hex, LocalAccount } from 'viem';
import { BACKEND_PATHS } from '../core/backend-protocol';
import { GATEWAY_HEADERS, GatewayRequestVerifier, sendError, sendJson } from '../core/node-protocol';
import { receiptTypedData, type ReceiptFields } from '../core/receipts';
import { TENSORS_MEDIA_TYPE, decodeTensors, encodeTensors } from '../core/tensors';
import type { SessionPool } from './session-pool';

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

// Request ids seen recently: a captured gateway request replayed inside the freshness window is refused.
const REPLAY_WINDOW_MS = 2 * 60_000;

/** Creates the backend's HTTP server: `POST /v1/run` (gateway-authenticated) and `GET /healthz`. */
export function createBackendServer(opts: BackendServerOptions): BackendServer {
  let inFlight = 0;
  const verifier = new GatewayRequestVerifier(opts.authKey, REPLAY_WINDOW_MS, opts.maxBodyBytes ?? 64 * 1024 * 1024);

  const handleRun = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const received = performance.now();
    const { requestId, subject: modelSha256, body, bodySha256 } = await verifier.read(req, BACKEND_PATHS.run);
    const result = await opts.sessions.run(modelSha256, decodeTensors(body));
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
    const receipt = {
      ...fields,
      timings: { queueMs: round(result.queueMs), runMs: round(result.runMs), totalMs: round(totalMs) },
      signature: receiptSignature,
    };
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
    if (req.method !== 'POST' || path !== BACKEND_PATHS.run) {
      sendJson(res, 404, { error: { code: 'not_found', message: `no route for ${req.method} ${path}` } });
      return;
    }
    inFlight++;
    handleRun(req, res)
      .catch((err: unknown) => sendError(res, err, 'backend_error', opts.log))
      .finally(() => {
        inFlight--;
      });
  });
  return { server, inFlight: () => inFlight };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
