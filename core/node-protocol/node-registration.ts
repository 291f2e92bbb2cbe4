import type { Hex } from 'viem';
import { ProofgateError } from '../errors';

/** The gateway refused a node's registration (token, signature, proof of possession, key taken): retrying will not help. */
export class RegistrationRefusedError extends ProofgateError {
  constructor(code: string, message: string) {
    super('registration_refused', `gateway refused registration: ${code}: ${message}`, 403, { reason: code });
  }
}

/** What the gateway answers every registering node: its id and the key that authenticates the gateway's requests. */
export interface NodeRegistrationReply {
  id: string;
  authKey: Hex;
  [field: string]: unknown;
}

/**
 * Registers a node (backend or signer node) at `gatewayUrl + path` with the operator token, building
 * a freshly signed body for each try, and retrying while the gateway is unreachable or failing
 * (backoff up to 5 s) for up to `timeoutMs`. A 4xx is final: RegistrationRefusedError.
 */
export async function registerNode(
  gatewayUrl: string,
  path: string,
  operatorToken: string,
  body: () => Promise<unknown>,
  timeoutMs = 120_000,
): Promise<NodeRegistrationReply> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
    try {
      const res = await fetch(`${gatewayUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${operatorToken}` },
        body: JSON.stringify(await body()),
        signal: AbortSignal.timeout(15_000),
      });
      const reply = (await res.json().catch(() => ({}))) as Partial<NodeRegistrationReply> & { error?: { code?: string; message?: string } };
      if (res.status >= 400 && res.status < 500)
        throw new RegistrationRefusedError(reply.error?.code ?? `http_${res.status}`, reply.error?.message ?? '');
      if (!res.ok || typeof reply.authKey !== 'string' || typeof reply.id !== 'string') {
        throw new ProofgateError('registration_failed', `registration failed: HTTP ${res.status}`, 502);
      }
      return reply as NodeRegistrationReply;
    } catch (err) {
      if (err instanceof RegistrationRefusedError || Date.now() + delay > deadline) throw err;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
