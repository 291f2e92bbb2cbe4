import { BackendPool, type PoolBackend, backendPool } from '../../durable-objects/backend-pool';

// A bench-only Worker: `POST {op, calls, backends}` sends `calls` concurrent RPCs of one kind to the
// one BackendPool object (the gateway's own class, unchanged) and answers when all are done; the
// caller times it from outside, since workerd's clock only moves at I/O.

export { BackendPool };

interface Env {
  BACKEND_POOL: DurableObjectNamespace<BackendPool>;
}

interface PoolRateRequest {
  op: 'register' | 'snapshot' | 'heartbeat';
  calls: number;
  backends: number;
}

function backend(i: number): PoolBackend {
  const hex = i.toString(16).padStart(40, '0');
  return {
    id: `backend-${i}`,
    address: `0x${hex}`,
    url: `http://10.0.${Math.floor(i / 250)}.${i % 250}:8080`,
    executionProvider: 'cuda',
    models: '*',
    status: 'active',
    operator: null,
  };
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    if (request.method !== 'POST') return new Response('POST {"op": "register" | "snapshot" | "heartbeat", "calls": N, "backends": M}\n');
    const { op, calls, backends } = (await request.json()) as PoolRateRequest;
    const pool = backendPool(env.BACKEND_POOL);
    const call = (i: number): Promise<unknown> => {
      if (op === 'register') return pool.upsert(backend(i));
      if (op === 'heartbeat')
        return pool.heartbeat(`backend-${i % backends}`, { inFlight: i % 3, queueDepth: i % 5, queueCapacity: 64, draining: false });
      return pool.snapshot();
    };
    await Promise.all(Array.from({ length: calls }, (_, i) => call(i)));
    return Response.json({ op, calls });
  },
};
