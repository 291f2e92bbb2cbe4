/**
 * The gateway Worker's route table: every route with the steps that guard it (who may call it,
 * what body it takes, how large), then its handler. Handlers are a few lines; use cases live in
 * plain modules beside them (inference/, payments/, intents/, …).
 */
import { Router, type IRequest } from 'itty-router';
import type { Env } from './env';
import { backendDepartureBody, backendHeartbeatBody, backendRegistrationBody } from './backends/backend-registry';
import { apiKeyBody } from './callers/api-keys';
import { requireAdmin, requireOperatorToken, withBytes, withJson } from './http/middleware';
import { applyCacheControl, immutable } from './http/cache-control';
import { notFound } from './http/problem';
import { attestationConsumeBody } from './intents/attestation-checks';
import { limitIntents } from './intents/intent-rate-limit';
import { submitIntentBody } from './intents/intent-tasks';
import { operatorRegistrationBody } from './operators/operator-registry';
import { policyBody } from './policies/policy-store';
import { handleConsumeAttestation, handleVerifyAttestation } from './routes/attestations';
import { handleDepart, handleHeartbeat, handleListBackends, handleRegisterBackend } from './routes/backends';
import { handleGatewayMetrics } from './routes/metrics';
import { handleHealth, indexOf } from './routes/health';
import { handleGetTask, handleSubmitIntent } from './routes/intents';
import { handleGetBlob, handleGetModel, handleInfer, handleListModels } from './routes/models';
import {
  handleKserveInfer,
  handleKserveLive,
  handleKserveModelMetadata,
  handleKserveModelReady,
  handleKserveNotFound,
  handleKserveReady,
  handleKserveServerMetadata,
} from './routes/kserve';
import {
  completeUploadBody,
  handleAbortUpload,
  handleCompleteUpload,
  handlePublishModel,
  handleStartUpload,
  handleUploadPart,
} from './routes/model-uploads';
import { handleListOperators, handleRegisterOperator } from './routes/operators';
import { handleGetPayment, handleGetPaymentResult } from './routes/payments';
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
import {
  handleDeletePolicyDataSecrets,
  handleDeliverPolicyDataSecrets,
  handleGetPolicyDataSecretNames,
  handlePutPolicyDataSecrets,
} from './routes/policy-data-secrets';
import { putSecretsBody } from './intents/policy-data-secrets';
import { secretsRequestSchema } from '../core/policy-data-secrets';
import { handleGetReceipt } from './routes/receipts';
import { handleGetInferenceQuorum } from './routes/inference-quorums';
import { attestationVerifyBody } from './inference/quorum/attestation-checks';
import { handleListReceipts, handleListTasks } from './routes/activity';
import { handleExplorerHome, handleExplorerReceipt } from './routes/explorer';
import { openApiResponse } from './openapi/openapi-document';
import { beginRequestLog, endRequestLog, respondToError } from './observability/request-log';

export { AttestationLedger } from '../durable-objects/attestation-ledger';
export { BackendPool } from '../durable-objects/backend-pool';
export { NonceLedger } from '../durable-objects/nonce-ledger';
export { TaskQuorum } from './intents/task-quorum-object';
export { InferenceQuorum } from './inference/quorum/inference-quorum-object';

const KiB = 1024;

// Every request is logged once (request-log.ts) and every answer gets its Cache-Control (cache-control.ts).
const router = Router<IRequest, [Env, ExecutionContext]>({
  before: [beginRequestLog],
  catch: respondToError,
  finally: [applyCacheControl, endRequestLog],
});

router
  .get('/', handleExplorerHome)
  .get('/', () => indexOf(router.routes))
  .get('/openapi.json', () => openApiResponse(router.routes))
  .get('/receipts/:requestId', handleExplorerReceipt)
  .get('/healthz', handleHealth)
  // Model hub and inference
  .get('/v1/models', handleListModels)
  .get('/v1/models/:name', handleGetModel)
  .post('/v1/models/:name/versions', requireAdmin, handlePublishModel)
  .post('/v1/models/:name/uploads', requireAdmin, handleStartUpload)
  .put('/v1/models/:name/uploads/:uploadId/parts/:partNumber', requireAdmin, handleUploadPart)
  .post('/v1/models/:name/uploads/:uploadId/complete', requireAdmin, withJson(completeUploadBody, 1024 * KiB), handleCompleteUpload)
  .delete('/v1/models/:name/uploads/:uploadId', requireAdmin, handleAbortUpload)
  .post('/v1/models/:name/infer', handleInfer)
  .get('/v1/blobs/:sha256', handleGetBlob)
  .get('/v1/inference-quorums/:requestId', handleGetInferenceQuorum)
  .get('/v1/receipts', handleListReceipts)
  .get('/v1/receipts/:requestId', handleGetReceipt)
  .get('/v1/payments/:id', handleGetPayment)
  .get('/v1/payments/:id/result', handleGetPaymentResult)
  // Admission policies and callers
  .put('/v1/models/:name/policy', requireAdmin, withJson(bindPolicyBody, 4 * KiB), handleBindModelPolicy)
  .delete('/v1/models/:name/policy', requireAdmin, handleUnbindModelPolicy)
  .post('/v1/policies', requireAdmin, withJson(policyBody, 1024 * KiB), handleCreatePolicy)
  .get('/v1/policies/:id', immutable, handleGetPolicy)
  .post('/v1/policies/:id/evaluate', requireAdmin, withJson(evaluatePolicyBody, 1024 * KiB), handleEvaluatePolicy)
  .post('/v1/api-keys', requireAdmin, withJson(apiKeyBody, 4 * KiB), handleCreateApiKey)
  // Intents, tasks and attestations
  .post('/v1/intents', limitIntents, withJson(submitIntentBody, 256 * KiB), handleSubmitIntent)
  .get('/v1/tasks', handleListTasks)
  .get('/v1/tasks/:taskId', handleGetTask)
  .post('/v1/attestations/verify', withJson(attestationVerifyBody, 256 * KiB), handleVerifyAttestation)
  .post('/v1/attestations/consume', withJson(attestationConsumeBody, 256 * KiB), handleConsumeAttestation)
  .post('/v1/policy-data', requireAdmin, withBytes(MAX_POLICY_DATA_BYTES), handleUploadPolicyData)
  .get('/v1/policy-data/:sha256', handleGetPolicyData)
  .post('/v1/policy-data/secrets', withJson(secretsRequestSchema, 4 * KiB), handleDeliverPolicyDataSecrets)
  .put('/v1/policy-data/:sha256/secrets/:policyClient', requireAdmin, withJson(putSecretsBody, 256 * KiB), handlePutPolicyDataSecrets)
  .get('/v1/policy-data/:sha256/secrets/:policyClient', requireAdmin, handleGetPolicyDataSecretNames)
  .delete('/v1/policy-data/:sha256/secrets/:policyClient', requireAdmin, handleDeletePolicyDataSecrets)
  // Nodes: operators (signer nodes) and inference backends
  .get('/v1/operators', handleListOperators)
  .post('/v1/operators/register', requireOperatorToken, withJson(operatorRegistrationBody, 16 * KiB), handleRegisterOperator)
  .get('/v1/backends', handleListBackends)
  .post('/v1/backends/register', requireOperatorToken, withJson(backendRegistrationBody, 16 * KiB), handleRegisterBackend)
  .post('/v1/backends/heartbeat', withJson(backendHeartbeatBody, 16 * KiB), handleHeartbeat)
  .post('/v1/backends/depart', withJson(backendDepartureBody, 16 * KiB), handleDepart)
  .get('/metrics', requireAdmin, handleGatewayMetrics)
  // The Open Inference Protocol (KServe v2 REST): the same calls, in the form Triton and KServe clients speak
  .get('/v2', handleKserveServerMetadata)
  .get('/v2/health/live', handleKserveLive)
  .get('/v2/health/ready', handleKserveReady)
  .get('/v2/models/:name', handleKserveModelMetadata)
  .get('/v2/models/:name/versions/:version', handleKserveModelMetadata)
  .get('/v2/models/:name/ready', handleKserveModelReady)
  .get('/v2/models/:name/versions/:version/ready', handleKserveModelReady)
  .post('/v2/models/:name/infer', handleKserveInfer)
  .post('/v2/models/:name/versions/:version/infer', handleKserveInfer)
  .all('/v2/*', handleKserveNotFound)
  .all('*', notFound);

export default {
  fetch: (request: Request, env: Env, ctx: ExecutionContext) => router.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
