import type { IRequest } from 'itty-router';
import type { z } from 'zod';
import type { Env } from '../env';
import type { RouteRequest } from '../http/middleware';
import { jsonResponse } from '../http/problem';
import { getTask, submitIntent, type submitIntentBody } from '../intents/intent-tasks';
import { operatorRegistryChain } from '../operators/registry-snapshots';

/** POST /v1/intents: creates and dispatches a task; 200 with the outcome when it is final in time, else 202. */
export async function handleSubmitIntent(req: RouteRequest<z.infer<typeof submitIntentBody>>, env: Env): Promise<Response> {
  const view = await submitIntent({ db: env.DB, tasks: env.TASK_QUORUM, registry: () => operatorRegistryChain(env) }, req.content, Date.now());
  const final = view.status === 'completed' || view.status === 'failed';
  return jsonResponse(view, final ? 200 : 202, final ? undefined : { location: `/v1/tasks/${view.taskId}` });
}

/** GET /v1/tasks/:taskId: status, signers, non-signers and the attestation. */
export async function handleGetTask(req: IRequest, env: Env): Promise<Response> {
  return jsonResponse(await getTask(env.TASK_QUORUM, String(req.params['taskId'])));
}
