import { bytesToHex, type Address, type Hex } from 'viem';
import { signMessage } from '../core/attestation';
import { registerNode } from '../core/node-protocol';
import { operatorRegistrationMessage } from '../core/operator-protocol';
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

/** The body of `POST /v1/operators/register`: key, proof of possession and a fresh signature over the rest. */
export function registrationBody(
  opts: Omit<RegistrationOptions, 'gatewayUrl' | 'operatorToken'>,
  id: string,
  issuedAt: number,
): Record<string, unknown> {
  const signature = signMessage(
    opts.key.secretKey,
    operatorRegistrationMessage({ id, url: opts.publicUrl, address: opts.address ?? null, issuedAt }),
  );
  return {
    id,
    blsPublicKey: bytesToHex(opts.key.publicKey),
    proofOfPossession: bytesToHex(opts.key.proofOfPossession),
    url: opts.publicUrl,
    ...(opts.address ? { address: opts.address } : {}),
    issuedAt,
    signature: bytesToHex(signature),
  };
}

/**
 * Registers the operator, retrying while the gateway is unreachable for up to `timeoutMs`.
 * Returns its id and the key that authenticates the gateway's task requests.
 */
export async function registerWithGateway(opts: RegistrationOptions, id: string, timeoutMs = 120_000): Promise<{ id: string; authKey: Hex }> {
  const reply = await registerNode(
    opts.gatewayUrl,
    '/v1/operators/register',
    opts.operatorToken,
    async () => registrationBody(opts, id, Math.floor(Date.now() / 1000)),
    timeoutMs,
  );
  return { id: reply.id, authKey: reply.authKey };
}
