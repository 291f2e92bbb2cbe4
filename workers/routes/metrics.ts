import type { IRequest } from 'itty-router';
import { backendPool } from '../../durable-objects/backend-pool';
import type { Env } from '../env';
import { flushCallMetrics } from '../inference/call-metrics';

/** GET /metrics (admin): the gateway's call metrics and the pool's backends, as Prometheus text. */
export async function handleGatewayMetrics(_req: IRequest, env: Env): Promise<Response> {
  await flushCallMetrics(env.BACKEND_POOL);
  return new Response(await backendPool(env.BACKEND_POOL).metricsText(), {
    headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' },
  });
}
