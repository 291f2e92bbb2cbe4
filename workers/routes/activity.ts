import type { IRequest } from 'itty-router';
import { InvalidRequestError } from '../../core/errors';
import type { Env } from '../env';
import { jsonResponse } from '../http/problem';
import { listRecentReceipts } from '../inference/receipt-list';
import { listRecentTasks } from '../intents/task-list';

/** GET /v1/receipts?limit=N&model=NAME: the most recent receipts, newest first. */
export async function handleListReceipts(req: IRequest, env: Env): Promise<Response> {
  const query = new URL(req.url).searchParams;
  const model = query.get('model');
  return jsonResponse({ receipts: await listRecentReceipts(env.DB, { limit: parseLimit(query.get('limit')), ...(model ? { model } : {}) }) });
}

/** GET /v1/tasks?limit=N: the most recent tasks with their status, newest first. */
export async function handleListTasks(req: IRequest, env: Env): Promise<Response> {
  return jsonResponse({ tasks: await listRecentTasks(env.DB, env.TASK_QUORUM, parseLimit(new URL(req.url).searchParams.get('limit'))) });
}

function parseLimit(raw: string | null): number {
  if (raw === null) return 20;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1 || n > 100) throw new InvalidRequestError('invalid_limit', 'limit must be an integer from 1 to 100');
  return n;
}
