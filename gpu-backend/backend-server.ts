import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Hex } from 'viem';
import { BACKEND_LOAD_HEADERS, BACKEND_PATHS, QUORUM_PATHS, RUN_TERMS_HEADERS, readRunTerms } from '../core/backend-protocol';
import { ProofgateError } from '../core/errors';
import { GATEWAY_HEADERS, GatewayRequestVerifier, sendError, sendJson, type NodeResponseLike } from '../core/node-protocol';
import { receiptCharge, receiptDigest, type ReceiptFields, type ReceiptFieldsV2 } from '../core/receipts';
import { TENSORS_MEDIA_TYPE, decodeTensors, encodeTensors } from '../core/tensors';
import type { BackendMetrics } from './backend-metrics';
import type { QuorumSigner } from './quorum-signer';
import type { ReceiptSigner } from './receipt-signer';
import type { RunScheduler } from './run-scheduler';

/** What the backend's HTTP server needs. `authKey()` is null until the gateway has accepted registration. */
export interface BackendServerOptions {
  signer: ReceiptSigner;
  scheduler: RunScheduler;
  metrics: BackendMetrics;
  executionProvider: string;
  authKey: () => Hex | null;
  maxBodyBytes?: number;
  /** Largest answer (canonical output bytes); a model that produces more gets 422 output_too_large. */
  maxOutputBytes?: number;
  log?: (line: string) => void;
  /** Quorum mode: keeps runs' outputs and signs inference digests for the backend's operator (absent: not attached to one). */
  quorum?: QuorumSigner;
}

/** Outputs larger than the backend will send: a property of the inputs, so the caller's error. */
export class OutputTooLargeError extends ProofgateError {
  constructor(limit: number) {
    super('output_too_large', `the outputs for these inputs exceed ${limit} bytes`, 422);
  }
}

// Request ids seen recently: a captured gateway request replayed inside the freshness window is refused.
const REPLAY_WINDOW_MS = 2 * 60_000;

/**
 * Creates the backend's HTTP server: `POST /v1/run` (gateway-authenticated; canonical tensors in
 * and out, the signed receipt and the backend's load in headers), `GET /healthz` and `GET /metrics`
 * (Prometheus text).
 */
export function createBackendServer(opts: BackendServerOptions): Server {
  const { scheduler, metrics } = opts;
  const verifier = new GatewayRequestVerifier(opts.authKey, REPLAY_WINDOW_MS, opts.maxBodyBytes ?? 64 * 1024 * 1024);
  const maxOutputBytes = opts.maxOutputBytes ?? 256 * 1024 * 1024;
  const load = (): Record<string, string> => ({
    [BACKEND_LOAD_HEADERS.queueDepth]: String(scheduler.queueDepth()),
    [BACKEND_LOAD_HEADERS.queueCapacity]: String(scheduler.options.maxQueue),
    [BACKEND_LOAD_HEADERS.draining]: scheduler.isDraining() ? '1' : '0',
  });

  const handleRun = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const received = performance.now();
    // Refused before the body is read: a full or draining backend answers at once.
    if (scheduler.isDraining())
      throw new ProofgateError('backend_draining', 'this backend is draining and takes no new work', 503, { retryAfterSeconds: 1 });
    if (scheduler.queueDepth() >= scheduler.options.maxQueue) {
      throw new ProofgateError('backend_saturated', 'this backend has no room in its queue', 503, { retryAfterSeconds: 1 });
    }
    const { requestId, subject: modelSha256, body, bodySha256 } = await verifier.read(req, BACKEND_PATHS.run);
    // The request authenticated, so the key is there; terms are checked before any work.
    const terms = await readRunTerms(opts.authKey()!, requestId, headerOf(req, RUN_TERMS_HEADERS.terms), headerOf(req, RUN_TERMS_HEADERS.signature));
    const result = await scheduler.run(modelSha256, decodeTensors(body));
    const outputBytes = encodeTensors(result.outputs);
    if (outputBytes.byteLength > maxOutputBytes) throw new OutputTooLargeError(maxOutputBytes);
    const v1: ReceiptFields = {
      requestId,
      modelSha256,
      inputHash: bodySha256,
      outputHash: `0x${createHash('sha256').update(outputBytes).digest('hex')}`,
      backend: opts.signer.address,
      executionProvider: opts.executionProvider,
      issuedAt: Math.floor(Date.now() / 1000),
    };
    opts.quorum?.remember(requestId, { modelSha256, inputHash: bodySha256, outputHash: v1.outputHash, outputBytes });
    // With the gateway's terms, a version 2 receipt: the charge is computed here, from this
    // backend's own measure of the call's run time, and signed with the terms it applies.
    const fields: ReceiptFields | ReceiptFieldsV2 = terms
      ? { ...v1, ...terms, runMs: result.shareMs, charged: receiptCharge(terms, result.shareMs) }
      : v1;
    const signature = await opts.signer.sign(receiptDigest(fields));
    const totalMs = performance.now() - received;
    const timings = { queueMs: round(result.queueMs), runMs: round(result.runMs), totalMs: round(totalMs) };
    res.writeHead(200, {
      'content-type': TENSORS_MEDIA_TYPE,
      'content-length': outputBytes.byteLength,
      [GATEWAY_HEADERS.receipt]: Buffer.from(JSON.stringify({ ...fields, timings, signature })).toString('base64url'),
      [BACKEND_LOAD_HEADERS.batchSize]: String(result.batchSize),
      ...load(),
    });
    metrics.request(modelSha256, 200);
    metrics.served(modelSha256, timings);
    res.end(outputBytes);
  };

  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') {
      sendJson(res, 200, {
        ok: true,
        registered: opts.authKey() !== null,
        executionProvider: opts.executionProvider,
        inFlight: scheduler.inFlight(),
        queueDepth: scheduler.queueDepth(),
        draining: scheduler.isDraining(),
      });
      return;
    }
    if (req.method === 'GET' && path === '/metrics') {
      metrics.registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(text);
      });
      return;
    }
    const quorum = opts.quorum;
    if (req.method === 'POST' && path === QUORUM_PATHS.sign && quorum) {
      verifier
        .read(req, QUORUM_PATHS.sign)
        .then((authenticated) => sendJson(res, 200, quorum.sign(authenticated)))
        .catch((err: unknown) => sendError(res, err, 'backend_error', opts.log));
      return;
    }
    if (req.method !== 'POST' || path !== BACKEND_PATHS.run) {
      sendJson(res, 404, { error: { code: 'not_found', message: `no route for ${req.method} ${path}` } });
      return;
    }
    const model = String(req.headers[GATEWAY_HEADERS.subject] ?? '').slice(0, 66);
    handleRun(req, res).catch((err: unknown) => {
      const status = err instanceof ProofgateError ? err.status : 500;
      metrics.request(/^0x[0-9a-f]{64}$/.test(model) ? model : 'unknown', status);
      sendFailure(res, err, load(), opts.log);
    });
  });
}

// An error answer that also carries the backend's load and, for a 503, when to come back.
function sendFailure(res: ServerResponse, err: unknown, load: Record<string, string>, log?: (line: string) => void): void {
  if (!res.headersSent) {
    for (const [k, v] of Object.entries(load)) res.setHeader(k, v);
    const retryAfter = err instanceof ProofgateError ? err.details?.['retryAfterSeconds'] : undefined;
    if (typeof retryAfter === 'number') res.setHeader('retry-after', String(retryAfter));
  }
  sendError(res as NodeResponseLike, err, 'backend_error', log);
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
