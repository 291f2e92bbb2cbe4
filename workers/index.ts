import { Router } from 'itty-router';
import type { Env } from './env';
import { notFound, toErrorResponse } from './http/problem';
import { handleHeartbeat, handleListBackends, handleRegisterBackend } from './routes/backends';
import { handleHealth, handleIndex } from './routes/health';
import { handleGetBlob, handleGetModel, handleInfer, handleListModels, handlePublishModel } from './routes/models';
import {
  handleBindModelPolicy, handleCreateApiKey, handleCreatePolicy, handleEvaluatePolicy, handleGetPolicy, handleUnbindModelPolicy,
} from './routes/policies';
import { handleGetPayment } from './routes/payments';
import { handleGetReceipt } from './routes/receipts';
import { handleListOperators, handleRegisterOperator, handleSetOperatorStake } from './routes/operators';
import { handleGetTask, handleSubmitIntent } from './routes/intents';
import { handleConsumeAttestation, handleVerifyAttestation } from './routes/attestations';
import { handleGetPolicyData, handleUploadPolicyData } from './routes/policy-data';

export { BackendPool } from '../durable-objects/backend-pool';
export { NonceLedger } from '../durable-objects/nonce-ledger';
export { TaskQuorum } from '../durable-objects/task-quorum';
export { AttestationLedger } from '../durable-objects/attestation-ledger';

const router = Router<Request & { params: Record<string, string> }, [Env, ExecutionContext]>({ catch: toErrorResponse });

router
  .get('/', handleIndex)
  .get('/healthz', handleHealth)
  .get('/v1/models', handleListModels)
  .get('/v1/models/:name', handleGetModel)
  .post('/v1/models/:name/versions', handlePublishModel)
  .post('/v1/models/:name/infer', handleInfer)
  .put('/v1/models/:name/policy', handleBindModelPolicy)
  .delete('/v1/models/:name/policy', handleUnbindModelPolicy)
  .post('/v1/policies', handleCreatePolicy)
  .get('/v1/policies/:id', handleGetPolicy)
  .post('/v1/policies/:id/evaluate', handleEvaluatePolicy)
  .post('/v1/api-keys', handleCreateApiKey)
  .get('/v1/blobs/:sha256', handleGetBlob)
  .get('/v1/receipts/:requestId', handleGetReceipt)
  .get('/v1/payments/:id', handleGetPayment)
  .get('/v1/operators', handleListOperators)
  .post('/v1/operators/register', handleRegisterOperator)
  .post('/v1/operators/:id/stake', handleSetOperatorStake)
  .post('/v1/intents', handleSubmitIntent)
  .get('/v1/tasks/:taskId', handleGetTask)
  .post('/v1/attestations/verify', handleVerifyAttestation)
  .post('/v1/attestations/consume', handleConsumeAttestation)
  .post('/v1/policy-data', handleUploadPolicyData)
  .get('/v1/policy-data/:sha256', handleGetPolicyData)
  .get('/v1/backends', handleListBackends)
  .post('/v1/backends/register', handleRegisterBackend)
  .post('/v1/backends/heartbeat', handleHeartbeat)
  .all('*', notFound);

export default {
  fetch: (request: Request, env: Env, ctx: ExecutionContext) => router.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
