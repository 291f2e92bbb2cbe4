import { Router } from 'itty-router';
import type { Env } from './env';
import { notFound, toErrorResponse } from './http/problem';
import { handleHeartbeat, handleListBackends, handleRegisterBackend } from './routes/backends';
import { handleHealth, handleIndex } from './routes/health';
import { handleGetBlob, handleGetModel, handleInfer, handleListModels, handlePublishModel } from './routes/models';
import { handleGetReceipt } from './routes/receipts';

export { BackendPool } from '../durable-objects/backend-pool';

const router = Router<Request & { params: Record<string, string> }, [Env, ExecutionContext]>({ catch: toErrorResponse });

router
  .get('/', handleIndex)
  .get('/healthz', handleHealth)
  .get('/v1/models', handleListModels)
  .get('/v1/models/:name', handleGetModel)
  .post('/v1/models/:name/versions', handlePublishModel)
  .post('/v1/models/:name/infer', handleInfer)
  .get('/v1/blobs/:sha256', handleGetBlob)
  .get('/v1/receipts/:requestId', handleGetReceipt)
  .get('/v1/backends', handleListBackends)
  .post('/v1/backends/register', handleRegisterBackend)
  .post('/v1/backends/heartbeat', handleHeartbeat)
  .all('*', notFound);

export default {
  fetch: (request: Request, env: Env, ctx: ExecutionContext) => router.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
