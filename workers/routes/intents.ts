import type { IRequest } from 'itty-router';
import type { Env } from '../env';
import { jsonResponse } from '../http/problem';
import { readJsonBody } from '../http/request-body';
import { getTask, submitIntent } from '../authorization/intent-tasks';

const MAX_INTENT_BYTES = 256 * 1024;

/** POST /v1/intents: creates and dispatches a task; 200 with the outcome when it is final in time, else 202. */
export async function handleSubmitIntent(req: IRequest, env: Env): Promise<Response> {
  const view = await submitIntent(env.DB, env.TASK_QUORUM, await readJsonBody(req, MAX_INTENT_BYTES), Date.now());
  const final = view.status === 'completed' || view.status === 'failed';
  return jsonResponse(view, final ? 200 : 202, final ? undefined : { location: `/v1/tasks/${view.taskId}` });
}

/** GET /v1/tasks/:taskId: status, signers, non-signers and the attestation. */
export async function handleGetTask(req: IRequest, env: Env): Promise<Response> {
  return jsonResponse(await getTask(env.TASK_QUORUM, String(req.params['taskId'])));
}
