import type { Hex, LocalAccount } from 'viem';
import { heartbeatTypedData, registrationTypedData, type BackendRegistration } from '../core/backend-protocol';

/** What the backend tells the gateway about itself. */
export interface GatewayClientOptions {
  gatewayUrl: string;
  operatorToken: string;
  account: LocalAccount;
  publicUrl: string;
  executionProvider: string;
  models: string;
  inFlight: () => number;
  log: (line: string) => void;
}

/** The gateway refused the registration (wrong token, bad signature): retrying will not help. */
export class RegistrationRefusedError extends Error {
  readonly code = 'registration_refused';
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
    const deadline = Date.now() + timeoutMs;
    for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
      try {
        const result = await this.register();
        return result;
      } catch (err) {
        if (err instanceof RegistrationRefusedError || Date.now() + delay > deadline) throw err;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** Stops heartbeats. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async register(): Promise<{ id: string }> {
    const registration: BackendRegistration = {
      backend: this.opts.account.address,
      url: this.opts.publicUrl,
      executionProvider: this.opts.executionProvider,
      models: this.opts.models,
      issuedAt: Math.floor(Date.now() / 1000),
    };
    const signature = await this.opts.account.signTypedData(registrationTypedData(registration));
    const res = await fetch(`${this.opts.gatewayUrl}/v1/backends/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.opts.operatorToken}` },
      body: JSON.stringify({ registration, signature }),
      signal: AbortSignal.timeout(15_000),
    });
    const body = (await res.json().catch(() => ({}))) as { id?: string; authKey?: Hex; heartbeatIntervalMs?: number; error?: { code: string; message: string } };
    if (res.status >= 400 && res.status < 500) throw new RegistrationRefusedError(`gateway refused registration: ${body.error?.code}: ${body.error?.message}`);
    if (!res.ok || !body.authKey || !body.id) throw new Error(`registration failed: HTTP ${res.status}`);
    this.authKey = body.authKey;
    this.schedule(body.heartbeatIntervalMs ?? 10_000);
    return { id: body.id };
  }

  private schedule(intervalMs: number): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.heartbeat(intervalMs).catch((err: unknown) => this.opts.log(`heartbeat failed: ${err instanceof Error ? err.message : String(err)}`))
        .finally(() => this.schedule(intervalMs));
    }, intervalMs);
    this.timer.unref();
  }

  private async heartbeat(intervalMs: number): Promise<void> {
    const heartbeat = { backend: this.opts.account.address, inFlight: this.opts.inFlight(), issuedAt: Math.floor(Date.now() / 1000) };
    const signature = await this.opts.account.signTypedData(heartbeatTypedData(heartbeat));
    const res = await fetch(`${this.opts.gatewayUrl}/v1/backends/heartbeat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ heartbeat, signature }),
      signal: AbortSignal.timeout(Math.max(intervalMs, 5_000)),
    });
    if (res.status === 404) {
      this.opts.log('gateway no longer knows this backend; registering again');
      await this.register();
    } else if (!res.ok) {
      throw new Error(`gateway answered ${res.status}`);
    }
  }
}
