import { createServer, type IncomingMessage, type Server } from 'node:http';
import { bytesToHex, hexToBytes, type Hex } from 'viem';
import { checkPolicyDataReportGroups, consensusFromReports, policyDataReportDigest, signMessage } from '../core/attestation';
import { InvalidRequestError } from '../core/errors';
import { GatewayRequestVerifier, sendError, sendJson } from '../core/node-protocol';
import { parseWithSchema } from '../core/validation';
import {
  TASK_PATHS,
  policyDataToleranceBps,
  signRequestSchema,
  taskAssignmentSchema,
  type SignedPolicyDataReply,
  type SignReply,
  type TaskAssignment,
} from '../core/operator-protocol';
import { signTask } from './evaluate-task';
import type { OperatorKey } from './operator-key';
import type { PolicyDataRunner } from './policy-data-runner';
import type { PolicySource } from './policy-source';
import type { RegistrySnapshots } from './registry-reader';
import { resolveTask } from './resolve-task';

/** What the signer node's HTTP server needs. `authKey()` is null until the gateway has accepted registration. */
export interface SignerServerOptions {
  key: OperatorKey;
  policyData: PolicyDataRunner;
  /** Policies by id, hash-checked (never the task's word for what its policy says). */
  policies: PolicySource;
  /** The registry snapshots tasks name, read from chain. */
  registry: RegistrySnapshots;
  authKey: () => Hex | null;
  operatorId: () => string | null;
  maxBodyBytes?: number;
  log?: (line: string) => void;
}

// Task ids per phase already served: a replayed request is refused, and an operator never signs
// two verdicts for one task (the window outlives any task deadline).
const REPLAY_WINDOW_MS = 10 * 60_000;

/**
 * The signer node's HTTP server: `POST /v1/tasks/policy-data` (phase 1: run the PolicyData modules
 * and sign the outputs), `POST /v1/tasks/sign` (phase 2: recompute the PolicyData consensus from the
 * signed reports, evaluate the policy and BLS-sign the verdict), both only for requests the gateway
 * authenticated and tasks whose policy content hashes to their policy id, and `GET /healthz`.
 */
export function createSignerServer(opts: SignerServerOptions): Server {
  const verifier = new GatewayRequestVerifier(opts.authKey, REPLAY_WINDOW_MS, opts.maxBodyBytes ?? 4 * 1024 * 1024);

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

  const handlePolicyData = async (req: IncomingMessage): Promise<SignedPolicyDataReply> => {
    const body = await authenticated(req, TASK_PATHS.policyData);
    const assignment = parseWithSchema(taskAssignmentSchema, (body as { task?: unknown }).task) as TaskAssignment;
    const { task } = await resolveTask(assignment, opts.policies, Date.now());
    const { outputs } = await opts.policyData.run(task);
    const signature = signMessage(opts.key.secretKey, hexToBytes(policyDataReportDigest(task.taskId, outputs)));
    return { outputs, signature: bytesToHex(signature) };
  };

  const handleSign = async (req: IncomingMessage): Promise<SignReply> => {
    const request = parseWithSchema(signRequestSchema, await authenticated(req, TASK_PATHS.sign));
    const { task, policy } = await resolveTask(request.task as TaskAssignment, opts.policies, Date.now());
    // The snapshot the verdict is signed under must be this node's registry at a sealed block.
    const registry = await opts.registry.snapshot(task.registry, task.registryBlock);
    // The data the policy sees is what the signed reports say, by the chain's stakes: never a value the gateway chose.
    checkPolicyDataReportGroups(task.taskId, request.reports, registry);
    const policyData =
      task.policyData.length === 0 ? {} : consensusFromReports(task.policyData, request.reports, registry, policyDataToleranceBps(task.params));
    return signTask(opts.key.secretKey, policy, task, policyData, await opts.policyData.kinds(task));
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
