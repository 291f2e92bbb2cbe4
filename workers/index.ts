/**
 * The gateway Worker's route table: every route with the steps that guard it (who may call it,
 * what body it takes, how large), then its handler. Handlers are a few lines; use cases live in
 * plain modules beside them (inference/, payments/, intents/, …).
 */
import { Router, type IRequest } from 'itty-router';
import type { Env } from './env';
import { backendHeartbeatBody, backendRegistrationBody } from './backends/backend-registry';
import { apiKeyBody } from './callers/api-keys';
import { requireAdmin, requireOperatorToken, withBytes, withJson } from './http/middleware';
import { notFound, toErrorResponse } from './http/problem';
import { byteLimit } from './http/request-body';
import { attestationCheckBody } from './intents/attestation-checks';
import { submitIntentBody } from './intents/intent-tasks';
import { operatorRegistrationBody, operatorStakeBody } from './operators/operator-registry';
import { policyBody } from './policies/policy-store';
import { handleConsumeAttestation, handleVerifyAttestation } from './routes/attestations';
import { handleHeartbeat, handleListBackends, handleRegisterBackend } from './routes/backends';
import { handleHealth, indexOf } from './routes/health';
import { handleGetTask, handleSubmitIntent } from './routes/intents';
import { DEFAULT_MAX_MODEL_BYTES, handleGetBlob, handleGetModel, handleInfer, handleListModels, handlePublishModel } from './routes/models';
import { handleListOperators, handleRegisterOperator, handleSetOperatorStake } from './routes/operators';
import { handleGetPayment } from './routes/payments';
import {
  bindPolicyBody,
  evaluatePolicyBody,
  handleBindModelPolicy,
  handleCreateApiKey,
  handleCreatePolicy,
  handleEvaluatePolicy,
  handleGetPolicy,
  handleUnbindModelPolicy,
} from './routes/policies';
import { MAX_POLICY_DATA_BYTES, handleGetPolicyData, handleUploadPolicyData } from './routes/policy-data';
import { handleGetReceipt } from './routes/receipts';

export { AttestationLedger } from '../durable-objects/attestation-ledger';
export { BackendPool } from '../durable-objects/backend-pool';
export { NonceLedger } from '../durable-objects/nonce-ledger';
export { TaskQuorum } from '../durable-objects/task-quorum';

const KiB = 1024;
const modelUploadLimit = (env: Env): number => byteLimit(env.MAX_MODEL_BYTES, DEFAULT_MAX_MODEL_BYTES);

const router = Router<IRequest, [Env, ExecutionContext]>({ catch: toErrorResponse });

router
  .get('/', () => indexOf(router.routes))
  .get('/healthz', handleHealth)
  // Model hub and inference
  .get('/v1/models', handleListModels)
  .get('/v1/models/:name', handleGetModel)
  .post('/v1/models/:name/versions', requireAdmin, withBytes(modelUploadLimit), handlePublishModel)
  .post('/v1/models/:name/infer', handleInfer)
  .get('/v1/blobs/:sha256', handleGetBlob)
  .get('/v1/receipts/:requestId', handleGetReceipt)
  .get('/v1/payments/:id', handleGetPayment)
  // Admission policies and callers
  .put('/v1/models/:name/policy', requireAdmin, withJson(bindPolicyBody, 4 * KiB), handleBindModelPolicy)
  .delete('/v1/models/:name/policy', requireAdmin, handleUnbindModelPolicy)
  .post('/v1/policies', requireAdmin, withJson(policyBody, 1024 * KiB), handleCreatePolicy)
  .get('/v1/policies/:id', handleGetPolicy)
  .post('/v1/policies/:id/evaluate', requireAdmin, withJson(evaluatePolicyBody, 1024 * KiB), handleEvaluatePolicy)
  .post('/v1/api-keys', requireAdmin, withJson(apiKeyBody, 4 * KiB), handleCreateApiKey)
  // Intents, tasks and attestations
  .post('/v1/intents', withJson(submitIntentBody, 256 * KiB), handleSubmitIntent)
  .get('/v1/tasks/:taskId', handleGetTask)
  .post('/v1/attestations/verify', withJson(attestationCheckBody, 256 * KiB), handleVerifyAttestation)
  .post('/v1/attestations/consume', withJson(attestationCheckBody, 256 * KiB), handleConsumeAttestation)
  .post('/v1/policy-data', requireAdmin, withBytes(MAX_POLICY_DATA_BYTES), handleUploadPolicyData)
  .get('/v1/policy-data/:sha256', handleGetPolicyData)
  // Nodes: operators (signer nodes) and inference backends
  .get('/v1/operators', handleListOperators)
  .post('/v1/operators/register', requireOperatorToken, withJson(operatorRegistrationBody, 16 * KiB), handleRegisterOperator)
  .post('/v1/operators/:id/stake', requireAdmin, withJson(operatorStakeBody, 16 * KiB), handleSetOperatorStake)
  .get('/v1/backends', handleListBackends)
  .post('/v1/backends/register', requireOperatorToken, withJson(backendRegistrationBody, 16 * KiB), handleRegisterBackend)
  .post('/v1/backends/heartbeat', withJson(backendHeartbeatBody, 16 * KiB), handleHeartbeat)
  .all('*', notFound);

export default {
  fetch: (request: Request, env: Env, ctx: ExecutionContext) => router.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
