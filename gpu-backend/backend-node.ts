import type { AddressInfo } from 'node:net';
import type { Hex, LocalAccount } from 'viem';
import { BackendMetrics } from './backend-metrics';
import { createBackendServer } from './backend-server';
import { chooseExecutionProvider } from './execution-provider';
import { GatewayClient } from './gateway-client';
import { operatorAttachment, type BackendOperator } from './operator-attachment';
import { QuorumSigner } from './quorum-signer';
import { ModelCache } from './model-cache';
import { privateKeySigner } from './receipt-signer';
import { RunScheduler, type SchedulerOptions } from './run-scheduler';
import { SessionPool, type RuntimeOptions } from './session-pool';

/** Settings of one backend node. */
export interface BackendNodeOptions {
  gatewayUrl: string;
  operatorToken: string;
  account: LocalAccount;
  /** The account's private key: receipts are signed with it directly (see receipt-signer.ts). */
  privateKey: Hex;
  host: string;
  port: number;
  /** URL the gateway calls; defaults to http://host:port. */
  publicUrl?: string;
  cacheDir: string;
  models: string;
  provider: 'auto' | 'cuda' | 'cpu';
  runtime: Omit<RuntimeOptions, 'provider'>;
  scheduler: SchedulerOptions;
  log: (line: string) => void;
  /** The operator this backend belongs to (quorum mode); absent: it serves single-backend calls only. */
  operator?: BackendOperator;
}

/** A running backend node. */
export interface BackendNode {
  id: string;
  url: string;
  executionProvider: string;
  /** Takes no new work, tells the gateway, finishes every queued and running call, then leaves the pool. */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a backend: picks the execution provider, serves HTTP, registers with the gateway and heartbeats. */
export async function startBackendNode(opts: BackendNodeOptions): Promise<BackendNode> {
  const ep = await chooseExecutionProvider(opts.provider);
  opts.log(`execution provider: ${ep.provider} (${ep.reason})`);
  const runtime: RuntimeOptions = { provider: ep.provider, ...opts.runtime };
  opts.log(
    `onnxruntime: intra-op threads ${runtime.intraOpThreads || 'default'}, inter-op threads ${runtime.interOpThreads || 'default'}, ` +
      `spin-wait ${runtime.spinWait ? 'on' : 'off'}; queue ${opts.scheduler.maxQueue}, batch ${opts.scheduler.maxBatch} within ${opts.scheduler.maxQueueDelayUs} µs`,
  );
  const sessions = new SessionPool(new ModelCache(opts.cacheDir, opts.gatewayUrl), runtime);
  let metrics: BackendMetrics | undefined;
  const scheduler = new RunScheduler(sessions, opts.scheduler, (e) => metrics?.batch(e.sha256, e.batchSize));
  metrics = new BackendMetrics({
    executionProvider: ep.provider,
    queueDepth: () => scheduler.queueDepth(),
    inFlight: () => scheduler.inFlight(),
    draining: () => scheduler.isDraining(),
  });
  let client: GatewayClient | undefined;
  const server = createBackendServer({
    signer: privateKeySigner(opts.privateKey),
    scheduler,
    metrics,
    executionProvider: ep.provider,
    authKey: () => client?.currentAuthKey() ?? null,
    log: opts.log,
    ...(opts.operator ? { quorum: new QuorumSigner(opts.operator, opts.account.address) } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = opts.publicUrl ?? `http://${opts.host}:${port}`;
  client = new GatewayClient({
    gatewayUrl: opts.gatewayUrl,
    operatorToken: opts.operatorToken,
    account: opts.account,
    publicUrl: url,
    executionProvider: ep.provider,
    models: opts.models,
    load: () => ({
      inFlight: scheduler.inFlight(),
      queueDepth: scheduler.queueDepth(),
      queueCapacity: scheduler.options.maxQueue,
      draining: scheduler.isDraining(),
    }),
    log: opts.log,
    ...(opts.operator ? { operator: (fields: Parameters<typeof operatorAttachment>[1]) => operatorAttachment(opts.operator!, fields) } : {}),
  });
  const stop = async (): Promise<void> => {
    client?.stop();
    server.closeIdleConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await sessions.close();
  };
  const drain = async (): Promise<void> => {
    const finished = scheduler.drain();
    await client?.beat().catch((err: unknown) => opts.log(`drain heartbeat failed: ${err instanceof Error ? err.message : String(err)}`));
    await finished;
    await client?.depart().catch((err: unknown) => opts.log(`leaving the pool failed: ${err instanceof Error ? err.message : String(err)}`));
  };
  try {
    const { id } = await client.start();
    opts.log(`backend ${opts.account.address} serving at ${url}, registered with ${opts.gatewayUrl} as ${id}`);
    return { id, url, executionProvider: ep.provider, drain, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
