import type { AddressInfo } from 'node:net';
import type { LocalAccount } from 'viem';
import { createBackendServer } from './backend-server';
import { chooseExecutionProvider } from './execution-provider';
import { GatewayClient } from './gateway-client';
import { ModelCache } from './model-cache';
import { SessionPool } from './session-pool';

/** Settings of one backend node. */
export interface BackendNodeOptions {
  gatewayUrl: string;
  operatorToken: string;
  account: LocalAccount;
  host: string;
  port: number;
  /** URL the gateway calls; defaults to http://host:port. */
  publicUrl?: string;
  cacheDir: string;
  models: string;
  provider: 'auto' | 'cuda' | 'cpu';
  threads?: number;
  log: (line: string) => void;
}

/** A running backend node. */
export interface BackendNode {
  id: string;
  url: string;
  executionProvider: string;
  stop(): Promise<void>;
}

/** Starts a backend: picks the execution provider, serves HTTP, registers with the gateway and heartbeats. */
export async function startBackendNode(opts: BackendNodeOptions): Promise<BackendNode> {
  const ep = await chooseExecutionProvider(opts.provider);
  opts.log(`execution provider: ${ep.provider} (${ep.reason})`);
  const sessions = new SessionPool(new ModelCache(opts.cacheDir, opts.gatewayUrl), ep.provider, opts.threads);
  let client: GatewayClient | undefined;
  const { server, inFlight } = createBackendServer({
    account: opts.account,
    sessions,
    executionProvider: ep.provider,
    authKey: () => client?.currentAuthKey() ?? null,
    log: opts.log,
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
    inFlight,
    log: opts.log,
  });
  const stop = async (): Promise<void> => {
    client?.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await sessions.close();
  };
  try {
    const { id } = await client.start();
    opts.log(`backend ${opts.account.address} serving at ${url}, registered with ${opts.gatewayUrl} as ${id}`);
    return { id, url, executionProvider: ep.provider, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
