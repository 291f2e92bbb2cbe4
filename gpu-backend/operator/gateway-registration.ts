import { bytesToHex, type Address, type Hex } from 'viem';
import { signMessage } from '../../core/attestation';
import { operatorRegistrationMessage } from '../../workers/authorization/task-protocol';
import type { OperatorKey } from './operator-key';

/** What an operator tells the gateway at registration. */
export interface RegistrationOptions {
  gatewayUrl: string;
  operatorToken: string;
  key: OperatorKey;
  publicUrl: string;
  id?: string;
  address?: Address;
}

/** The gateway refused the registration (token, proof of possession, key taken): retrying will not help. */
export class OperatorRegistrationRefusedError extends Error {
  readonly code = 'registration_refused';
}

/** The body of `POST /v1/operators/register`: key, proof of possession and a fresh signature over the rest. */
export function registrationBody(opts: Omit<RegistrationOptions, 'gatewayUrl' | 'operatorToken'>, id: string, issuedAt: number): Record<string, unknown> {
  const signature = signMessage(opts.key.secretKey, operatorRegistrationMessage({ id, url: opts.publicUrl, address: opts.address ?? null, issuedAt }));
  return {
    id, blsPublicKey: bytesToHex(opts.key.publicKey), proofOfPossession: bytesToHex(opts.key.proofOfPossession), url: opts.publicUrl,
    ...(opts.address ? { address: opts.address } : {}), issuedAt, signature: bytesToHex(signature),
  };
}

/**
 * Registers the operator, retrying while the gateway is unreachable for up to `timeoutMs`.
 * Returns its id, the key that authenticates the gateway's task requests, and its status.
 */
export async function registerWithGateway(opts: RegistrationOptions, id: string, timeoutMs = 120_000): Promise<{ id: string; authKey: Hex; status: string }> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
    try {
      const res = await fetch(`${opts.gatewayUrl}/v1/operators/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${opts.operatorToken}` },
        body: JSON.stringify(registrationBody(opts, id, Math.floor(Date.now() / 1000))),
        signal: AbortSignal.timeout(15_000),
      });
      const body = (await res.json().catch(() => ({}))) as { id?: string; authKey?: Hex; status?: string; error?: { code: string; message: string } };
      if (res.status >= 400 && res.status < 500) throw new OperatorRegistrationRefusedError(`gateway refused registration: ${body.error?.code}: ${body.error?.message}`);
      if (!res.ok || !body.authKey || !body.id) throw new Error(`registration failed: HTTP ${res.status}`);
      return { id: body.id, authKey: body.authKey, status: body.status ?? 'pending' };
    } catch (err) {
      if (err instanceof OperatorRegistrationRefusedError || Date.now() + delay > deadline) throw err;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
