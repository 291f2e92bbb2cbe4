import { mkdtemp } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import type { Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts';
import { GATEWAY_HEADERS } from '../../core/node-protocol';
import { BackendMetrics } from '../../gpu-backend/backend-metrics';
import { createBackendServer } from '../../gpu-backend/backend-server';
import { GatewayClient } from '../../gpu-backend/gateway-client';
import { ModelCache } from '../../gpu-backend/model-cache';
import { accountSigner } from '../../gpu-backend/receipt-signer';
import { DEFAULT_SCHEDULER, RunScheduler, type SchedulerOptions } from '../../gpu-backend/run-scheduler';
import { DEFAULT_RUNTIME, SessionPool, type LoadedModel } from '../../gpu-backend/session-pool';

/**
 * Real sessions whose runs wait for `open()`: the backend, its queue and onnxruntime are all real;
 * only when a run may start is in the test's hands, so queue and drain states are reached exactly.
 */
export class GatedSessionPool extends SessionPool {
  private gate!: Promise<void>;
  private release!: () => void;

  constructor(cache: ModelCache) {
    super(cache, { provider: 'cpu', ...DEFAULT_RUNTIME });
    this.hold();
  }

  /** Lets every waiting and later run go. */
  open(): void {
    this.release();
  }

  /** Holds later runs again. */
  hold(): void {
    this.gate = new Promise((r) => {
      this.release = r;
    });
  }

  override async load(sha256: string): Promise<LoadedModel> {
    const model = await super.load(sha256);
    const run = (feeds: Record<string, ort.Tensor>) => this.gate.then(() => model.session.run(feeds));
    return { ...model, session: { run } as unknown as ort.InferenceSession };
  }
}

/** A backend running in the test process: real server, scheduler, onnxruntime and keys, registered with a gateway. */
export interface InProcessBackend {
  account: PrivateKeyAccount;
  url: string;
  scheduler: RunScheduler;
  sessions: SessionPool;
  client: GatewayClient;
  /** Request ids of every run request it received, in order. */
  served: Hex[];
  drain(): Promise<void>;
  stop(): Promise<void>;
}

/** What to attach: keys (receipts may be signed by another key than the registered one), scheduling, sessions. */
export interface AttachOptions {
  registerAs?: PrivateKeyAccount;
  signAs?: PrivateKeyAccount;
  scheduler?: Partial<SchedulerOptions>;
  models?: string;
  sessions?: (cache: ModelCache) => SessionPool;
  /** Puts something between the gateway and the backend: given the backend's URL, returns the URL it registers. */
  interpose?: (url: string) => Promise<string>;
}

/** Starts an in-process backend and registers it with the gateway. */
export async function attachInProcessBackend(gateway: string, operatorToken: string, opts: AttachOptions = {}): Promise<InProcessBackend> {
  const account = opts.registerAs ?? privateKeyToAccount(generatePrivateKey());
  const cache = new ModelCache(await mkdtemp(join(tmpdir(), 'pg-cache-')), gateway);
  const sessions = opts.sessions?.(cache) ?? new SessionPool(cache, { provider: 'cpu', ...DEFAULT_RUNTIME });
  const scheduler = new RunScheduler(sessions, { ...DEFAULT_SCHEDULER, ...opts.scheduler }, (e) => metrics.batch(e.sha256, e.batchSize));
  const metrics = new BackendMetrics({
    executionProvider: 'cpu',
    queueDepth: () => scheduler.queueDepth(),
    inFlight: () => scheduler.inFlight(),
    draining: () => scheduler.isDraining(),
  });
  const served: Hex[] = [];
  let client: GatewayClient | undefined;
  const server = createBackendServer({
    signer: accountSigner(opts.signAs ?? account),
    scheduler,
    metrics,
    executionProvider: 'cpu',
    authKey: () => client?.currentAuthKey() ?? null,
  });
  server.prependListener('request', (req) => {
    if (req.url === '/v1/run') served.push(req.headers[GATEWAY_HEADERS.requestId] as Hex);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  client = new GatewayClient({
    gatewayUrl: gateway,
    operatorToken,
    account,
    publicUrl: opts.interpose ? await opts.interpose(url) : url,
    executionProvider: 'cpu',
    models: opts.models ?? '*',
    load: () => ({
      inFlight: scheduler.inFlight(),
      queueDepth: scheduler.queueDepth(),
      queueCapacity: scheduler.options.maxQueue,
      draining: scheduler.isDraining(),
    }),
    log: () => {},
  });
  await client.start(10_000);
  const c = client;
  return {
    account,
    url,
    scheduler,
    sessions,
    client: c,
    served,
    drain: async () => {
      const finished = scheduler.drain();
      await c.beat();
      await finished;
      await c.depart();
    },
    stop: async () => {
      c.stop();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await sessions.close();
    },
  };
}
