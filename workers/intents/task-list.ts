import { desc } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import type { Address, Hex } from 'viem';
import { taskQuorum, type TaskQuorum, type TaskView } from '../../durable-objects/task-quorum';
import { tasks } from '../../schema';

/** A task as the recent-task listing shows it: its row, and its status and verdict from its TaskQuorum. */
export interface ListedTask {
  taskId: Hex;
  policyId: Hex;
  chainId: number;
  status: string | null;
  allowed: boolean | null;
  /** The registry snapshot the task is judged under (null when its TaskQuorum has no view). */
  registry: Address | null;
  registryBlock: number | null;
  createdAt: string;
}

/** Most tasks one listing returns (each costs one Durable Object read). */
export const MAX_TASK_LIST = 50;

/** The most recent tasks, newest first, with each one's status (the explorer's live view). */
export async function listRecentTasks(db: D1Database, ns: DurableObjectNamespace<TaskQuorum>, limit: number): Promise<ListedTask[]> {
  const rows = await drizzle(db).select().from(tasks).orderBy(desc(tasks.createdAt), desc(tasks.id)).limit(Math.min(limit, MAX_TASK_LIST));
  return Promise.all(
    rows.map(async (t) => {
      const view = (await taskQuorum(ns, t.id).view()) as TaskView | null;
      return {
        taskId: t.id as Hex,
        policyId: t.policyId as Hex,
        chainId: t.chainId,
        status: view?.status ?? null,
        allowed: view?.attestation ? view.attestation.allowed : null,
        registry: view?.registry ?? null,
        registryBlock: view?.registryBlock ?? null,
        createdAt: new Date(t.createdAt).toISOString(),
      };
    }),
  );
}
