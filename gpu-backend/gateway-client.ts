import type { Address, Hex, LocalAccount } from 'viem';
import {
  departureTypedData,
  heartbeatTypedData,
  registrationTypedData,
  type BackendHeartbeat,
  type BackendRegistration,
  type OperatorAttachment,
} from '../core/backend-protocol';
import { ProofgateError } from '../core/errors';
import { registerNode } from '../core/node-protocol';

/** What the backend tells the gateway about itself. */
export interface GatewayClientOptions {
  gatewayUrl: string;
  operatorToken: string;
  account: LocalAccount;
  publicUrl: string;
  executionProvider: string;
  models: string;
  /** The load reported in each heartbeat. */
  load: () => Omit<BackendHeartbeat, 'backend' | 'issuedAt'>;
  log: (line: string) => void;
  /** The operator this backend belongs to: signs each registration's attachment (operator-attachment.ts). */
  operator?: (fields: { backend: Address; url: string; issuedAt: number }) => OperatorAttachment;
}

/**
 * Keeps a backend registered: registers (retrying while the gateway is unreachable), then heartbeats
 * at the interval the gateway asks for, and registers again if the gateway forgot it.
 */
export class GatewayClient {
  private authKey: Hex | null = null;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly opts: GatewayClientOptions) {}

  /** The key that authenticates the gateway's requests; null before registration. */
  currentAuthKey(): Hex | null {
    return this.authKey;
  }

  /** Registers, retrying transient failures for up to `timeoutMs`, then starts heartbeats. */
  async start(timeoutMs = 120_000): Promise<{ id: string }> {
    return this.register(timeoutMs);
  }

  /** Stops heartbeats. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Sends a heartbeat now (e.g. the first one of a drain, so that the pool stops routing here at once). */
  async beat(): Promise<void> {
    await this.heartbeat(10_000);
  }

  /** Leaves the gateway's pool (after a drain): signed, so only this backend can take itself out. */
  async depart(): Promise<void> {
    this.stop();
    const departure = { backend: this.opts.account.address, issuedAt: Math.floor(Date.now() / 1000) };
    const signature = await this.opts.account.signTypedData(departureTypedData(departure));
    const res = await fetch(`${this.opts.gatewayUrl}/v1/backends/depart`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ departure, signature }),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new ProofgateError('departure_failed', `gateway answered ${res.status}`, 502);
  }

  private async register(timeoutMs: number): Promise<{ id: string }> {
    const reply = await registerNode(
      this.opts.gatewayUrl,
      '/v1/backends/register',
      this.opts.operatorToken,
      async () => {
        const registration: BackendRegistration = {
          backend: this.opts.account.address,
          url: this.opts.publicUrl,
          executionProvider: this.opts.executionProvider,
          models: this.opts.models,
          issuedAt: Math.floor(Date.now() / 1000),
        };
        const signature = await this.opts.account.signTypedData(registrationTypedData(registration));
        const operator = this.opts.operator?.({ backend: registration.backend, url: registration.url, issuedAt: registration.issuedAt });
        return { registration, signature, ...(operator ? { operator } : {}) };
      },
      timeoutMs,
    );
    this.authKey = reply.authKey;
    this.schedule(typeof reply['heartbeatIntervalMs'] === 'number' ? reply['heartbeatIntervalMs'] : 10_000);
    return { id: reply.id };
  }

  private schedule(intervalMs: number): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.heartbeat(intervalMs)
        .catch((err: unknown) => this.opts.log(`heartbeat failed: ${err instanceof Error ? err.message : String(err)}`))
        .finally(() => this.schedule(intervalMs));
    }, intervalMs);
    this.timer.unref();
  }

  private async heartbeat(intervalMs: number): Promise<void> {
    const heartbeat: BackendHeartbeat = { backend: this.opts.account.address, ...this.opts.load(), issuedAt: Math.floor(Date.now() / 1000) };
    const signature = await this.opts.account.signTypedData(heartbeatTypedData(heartbeat));
    const res = await fetch(`${this.opts.gatewayUrl}/v1/backends/heartbeat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ heartbeat, signature }),
      signal: AbortSignal.timeout(Math.max(intervalMs, 5_000)),
    });
    if (res.status === 404) {
      this.opts.log('gateway no longer knows this backend; registering again');
      await this.register(60_000);
    } else if (!res.ok) {
      throw new ProofgateError('heartbeat_failed', `gateway answered ${res.status}`, 502);
    }
  }
}
