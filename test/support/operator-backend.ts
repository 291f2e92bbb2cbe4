import { mkdtemp } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts';
import { BackendMetrics } from '../../gpu-backend/backend-metrics';
import { createBackendServer } from '../../gpu-backend/backend-server';
import { GatewayClient } from '../../gpu-backend/gateway-client';
import { ModelCache } from '../../gpu-backend/model-cache';
import { loadBackendOperator, operatorAttachment } from '../../gpu-backend/operator-attachment';
import { QuorumSigner } from '../../gpu-backend/quorum-signer';
import { accountSigner } from '../../gpu-backend/receipt-signer';
import { DEFAULT_SCHEDULER, RunScheduler } from '../../gpu-backend/run-scheduler';
import { DEFAULT_RUNTIME, SessionPool, type LoadedModel } from '../../gpu-backend/session-pool';

/**
 * Real sessions whose float32 outputs come back shifted by `perturbation.delta` (0: untouched): a
 * backend whose hardware, build or weights make it compute slightly, or very, different numbers. The
 * backend signs what it computed, honestly: only its agreement with other operators is at stake.
 */
export class PerturbedSessionPool extends SessionPool {
  constructor(
    cache: ModelCache,
    readonly perturbation: { delta: number },
  ) {
    super(cache, { provider: 'cpu', ...DEFAULT_RUNTIME });
  }

  override async load(sha256: string): Promise<LoadedModel> {
    const model = await super.load(sha256);
    const run = async (feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> => {
      const outputs = await model.session.run(feeds);
      const delta = this.perturbation.delta;
      if (delta === 0) return outputs;
      const shifted: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(outputs)) {
        shifted[name] =
          t.type === 'float32'
            ? new ort.Tensor(
                'float32',
                Float32Array.from(t.data as Float32Array, (v) => v + delta),
                t.dims,
              )
            : t;
      }
      return shifted;
    };
    return { ...model, session: { run } as unknown as ort.InferenceSession };
  }
}

/** A backend of an operator running in the test process: real server, scheduler, onnxruntime, receipt key and operator key. */
export interface OperatorBackend {
  account: PrivateKeyAccount;
  url: string;
  /** Set `delta` to shift every float32 output this backend computes from now on. */
  perturbation: { delta: number };
  stop(): Promise<void>;
}

/** Starts an in-process backend attached to operator `operatorId` (its BLS key in `operatorKeyFile`) and registers it with the gateway. */
export async function attachOperatorBackend(
  gateway: string,
  operatorToken: string,
  operator: { id: string; keyFile: string },
): Promise<OperatorBackend> {
  const account = privateKeyToAccount(generatePrivateKey());
  const op = loadBackendOperator(operator.keyFile, operator.id);
  const perturbation = { delta: 0 };
  const sessions = new PerturbedSessionPool(new ModelCache(await mkdtemp(join(tmpdir(), 'pg-cache-')), gateway), perturbation);
  const scheduler = new RunScheduler(sessions, DEFAULT_SCHEDULER);
  const metrics = new BackendMetrics({
    executionProvider: 'cpu',
    queueDepth: () => scheduler.queueDepth(),
    inFlight: () => scheduler.inFlight(),
    draining: () => scheduler.isDraining(),
  });
  let client: GatewayClient | undefined;
  const server = createBackendServer({
    signer: accountSigner(account),
    scheduler,
    metrics,
    executionProvider: 'cpu',
    authKey: () => client?.currentAuthKey() ?? null,
    quorum: new QuorumSigner(op, account.address),
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  client = new GatewayClient({
    gatewayUrl: gateway,
    operatorToken,
    account,
    publicUrl: url,
    executionProvider: 'cpu',
    models: '*',
    load: () => ({
      inFlight: scheduler.inFlight(),
      queueDepth: scheduler.queueDepth(),
      queueCapacity: scheduler.options.maxQueue,
      draining: scheduler.isDraining(),
    }),
    log: () => {},
    operator: (fields) => operatorAttachment(op, fields),
  });
  await client.start(10_000);
  const c = client;
  return {
    account,
    url,
    perturbation,
    stop: async () => {
      c.stop();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await sessions.close();
    },
  };
}
