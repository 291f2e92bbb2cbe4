import { createServer, type IncomingMessage, type Server } from 'node:http';
import { bytesToHex, type Hex } from 'viem';
import { InvalidRequestError } from '../core/errors';
import { GatewayRequestVerifier, sendError, sendJson } from '../core/node-protocol';
import { parseWithSchema } from '../core/validation';
import { TASK_PATHS, intentTaskSchema, signRequestSchema, type IntentTask } from '../core/operator-protocol';
import { PolicyCache, signTask } from './evaluate-task';
import type { OperatorKey } from './operator-key';
import type { PolicyDataRunner } from './policy-data-runner';

/** What the signer node's HTTP server needs. `authKey()` is null until the gateway has accepted registration. */
export interface SignerServerOptions {
  key: OperatorKey;
  policyData: PolicyDataRunner;
  authKey: () => Hex | null;
  operatorId: () => string | null;
  maxBodyBytes?: number;
  log?: (line: string) => void;
}

// Task ids per phase already served: a replayed request is refused, and an operator never signs
// two verdicts for one task (the window outlives any task deadline).
const REPLAY_WINDOW_MS = 10 * 60_000;

/**
 * The signer node's HTTP server: `POST /v1/tasks/policy-data` (phase 1: run the PolicyData modules),
 * `POST /v1/tasks/sign` (phase 2: evaluate the policy and BLS-sign the verdict), both only for
 * requests the gateway authenticated, and `GET /healthz`.
 */
export function createSignerServer(opts: SignerServerOptions): Server {
  const verifier = new GatewayRequestVerifier(opts.authKey, REPLAY_WINDOW_MS, opts.maxBodyBytes ?? 4 * 1024 * 1024);
  const policies = new PolicyCache();

  const authenticated = async (req: IncomingMessage, path: string): Promise<unknown> => {
    const { requestId: taskId, subject: policyId, body } = await verifier.read(req, path);
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(body));
    } catch {
      throw new InvalidRequestError('invalid_json', 'body is not JSON');
    }
    const task = (parsed as { task?: { taskId?: unknown; policyId?: unknown } } | null)?.task;
    if (String(task?.taskId).toLowerCase() !== taskId || String(task?.policyId).toLowerCase() !== policyId) {
      throw new InvalidRequestError('invalid_request', 'the task in the body is not the one the request was signed for');
    }
    return parsed;
  };

  const handlePolicyData = async (req: IncomingMessage): Promise<unknown> => {
    const body = await authenticated(req, TASK_PATHS.policyData);
    const task = parseWithSchema(intentTaskSchema, (body as { task?: unknown }).task) as IntentTask;
    return opts.policyData.run(task);
  };

  const handleSign = async (req: IncomingMessage): Promise<unknown> => {
    const request = parseWithSchema(signRequestSchema, await authenticated(req, TASK_PATHS.sign));
    const task = request.task as IntentTask;
    return signTask(opts.key.secretKey, policies.get(task), task, request.policyData);
  };

  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') {
      sendJson(res, 200, { ok: true, registered: opts.authKey() !== null, id: opts.operatorId(), blsPublicKey: bytesToHex(opts.key.publicKey) });
      return;
    }
    const handler =
      req.method !== 'POST' ? undefined : path === TASK_PATHS.policyData ? handlePolicyData : path === TASK_PATHS.sign ? handleSign : undefined;
    if (!handler) {
      sendJson(res, 404, { error: { code: 'not_found', message: `no route for ${req.method} ${path}` } });
      return;
    }
    handler(req)
      .then((reply) => sendJson(res, 200, reply))
      .catch((err: unknown) => sendError(res, err, 'signer_error', opts.log));
  });
}
