import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { bytesToHex, type Hex } from 'viem';
import { GATEWAY_HEADERS, verifyGatewayRequest } from '../../core/backend-protocol';
import { ProofgateError } from '../../core/errors';
import { OPERATOR_PATHS, authorizationTaskSchema, signRequestSchema, type AuthorizationTask } from '../../workers/authorization/task-protocol';
import { PolicyCache, signTask } from './evaluate-task';
import type { OperatorKey } from './operator-key';
import type { PolicyDataRunner } from './policy-data-runner';

/** What the operator's HTTP server needs. `authKey()` is null until the gateway has accepted registration. */
export interface OperatorServerOptions {
  key: OperatorKey;
  policyData: PolicyDataRunner;
  authKey: () => Hex | null;
  operatorId: () => string | null;
  maxBodyBytes?: number;
  log?: (line: string) => void;
}

class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

// Task ids per phase already served: a replayed request is refused, and an operator never signs
// two verdicts for one task (the window outlives any task deadline).
const REPLAY_WINDOW_MS = 10 * 60_000;

/**
 * The operator's HTTP server: `POST /v1/tasks/policy-data` (phase 1: run the PolicyData modules),
 * `POST /v1/tasks/sign` (phase 2: evaluate the policy and BLS-sign the verdict), both only for
 * requests the gateway authenticated, and `GET /healthz`.
 */
export function createOperatorServer(opts: OperatorServerOptions): Server {
  const seen = new Map<string, number>();
  const policies = new PolicyCache();
  const maxBody = opts.maxBodyBytes ?? 4 * 1024 * 1024;

  const authenticated = async (req: IncomingMessage, path: string): Promise<unknown> => {
    const authKey = opts.authKey();
    if (!authKey) throw new HttpError(503, 'not_registered', 'operator is not registered with a gateway yet');
    const taskId = header(req, GATEWAY_HEADERS.requestId) as Hex;
    const policyId = header(req, GATEWAY_HEADERS.modelSha256) as Hex;
    if (!/^0x[0-9a-f]{64}$/.test(taskId) || !/^0x[0-9a-f]{64}$/.test(policyId)) {
      throw new HttpError(400, 'invalid_request', 'task id and policy id must be 0x-hex bytes32');
    }
    const body = await readBody(req, maxBody);
    const bodySha256 = `0x${createHash('sha256').update(body).digest('hex')}` as Hex;
    const now = Date.now();
    const authentic = await verifyGatewayRequest(authKey, {
      method: 'POST', path, requestId: taskId, modelSha256: policyId, bodySha256, timestamp: Number(header(req, GATEWAY_HEADERS.timestamp)),
    }, header(req, GATEWAY_HEADERS.signature), now);
    if (!authentic) throw new HttpError(401, 'unauthorized', 'request is not signed by the gateway, or is stale');
    for (const [id, at] of seen) if (at < now - REPLAY_WINDOW_MS) seen.delete(id);
    if (seen.has(`${path} ${taskId}`)) throw new HttpError(409, 'replayed_request', 'this task phase was already served');
    seen.set(`${path} ${taskId}`, now);
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(body).toString('utf8'));
    } catch {
      throw new HttpError(400, 'invalid_json', 'body is not JSON');
    }
    const task = (parsed as { task?: { taskId?: unknown; policyId?: unknown } } | null)?.task;
    if (String(task?.taskId).toLowerCase() !== taskId || String(task?.policyId).toLowerCase() !== policyId) {
      throw new HttpError(400, 'invalid_request', 'the task in the body is not the one the request was signed for');
    }
    return parsed;
  };

  const handlePolicyData = async (req: IncomingMessage): Promise<unknown> => {
    const body = await authenticated(req, OPERATOR_PATHS.policyData);
    const parsed = authorizationTaskSchema.safeParse((body as { task?: unknown }).task);
    if (!parsed.success) throw new HttpError(400, 'invalid_request', `task: ${parsed.error.issues[0]?.message}`);
    return opts.policyData.run(parsed.data as AuthorizationTask);
  };

  const handleSign = async (req: IncomingMessage): Promise<unknown> => {
    const parsed = signRequestSchema.safeParse(await authenticated(req, OPERATOR_PATHS.sign));
    if (!parsed.success) throw new HttpError(400, 'invalid_request', `${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`);
    const task = parsed.data.task as AuthorizationTask;
    return signTask(opts.key.secretKey, policies.get(task), task, parsed.data.policyData);
  };

  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') {
      sendJson(res, 200, { ok: true, registered: opts.authKey() !== null, id: opts.operatorId(), blsPublicKey: bytesToHex(opts.key.publicKey) });
      return;
    }
    const handler = req.method !== 'POST' ? undefined
      : path === OPERATOR_PATHS.policyData ? handlePolicyData : path === OPERATOR_PATHS.sign ? handleSign : undefined;
    if (!handler) {
      sendJson(res, 404, { error: { code: 'not_found', message: `no route for ${req.method} ${path}` } });
      return;
    }
    handler(req)
      .then((reply) => sendJson(res, 200, reply))
      .catch((err: unknown) => {
        const e = err instanceof HttpError ? err
          : err instanceof ProofgateError ? new HttpError(err.status, err.code, err.message)
          : new HttpError(500, 'operator_error', err instanceof Error ? err.message : String(err));
        if (e.status >= 500) opts.log?.(`${path} failed: ${e.message}`);
        if (!res.headersSent) sendJson(res, e.status, { error: { code: e.code, message: e.message } });
        else res.destroy();
      });
  });
}

function header(req: IncomingMessage, name: string): string {
  const v = req.headers[name];
  return (Array.isArray(v) ? v[0] : v) ?? '';
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
