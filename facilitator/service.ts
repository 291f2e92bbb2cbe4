import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { x402Facilitator } from '@x402/core/facilitator';
import { PaymentPayloadV2Schema, PaymentRequirementsV2Schema } from '@x402/core/schemas';
import type { PaymentPayload, PaymentRequirements } from '@x402/core/types';
import { registerExactEvmScheme } from '@x402/evm/exact/facilitator';
import { UptoEvmScheme } from '@x402/evm/upto/facilitator';
import type { Address, Hex, PublicClient } from 'viem';
import { z } from 'zod';
import { connect } from '../chain/clients';
import { ProofgateError } from '../core/errors';
import { facilitatorEvmSigner } from './evm-signer';
import { idempotentSettle } from './idempotent-settlement';

/** Options of startFacilitator. Port 0 (the default) picks a free port. */
export type FacilitatorOptions = { rpcUrl: string; privateKey: Hex; port?: number; host?: string };

/** A running local x402 facilitator. */
export type RunningFacilitator = {
  url: string;
  /** The account that submits settlements (and pays their gas). */
  address: Address;
  network: `eip155:${number}`;
  stop(): Promise<void>;
};

// Verify and settle bodies are a payload plus requirements, ~2 KB; anything far larger is refused unread.
const maxBodyBytes = 64 * 1024;

const requestSchema = z.object({
  x402Version: z.literal(2),
  paymentPayload: PaymentPayloadV2Schema,
  paymentRequirements: PaymentRequirementsV2Schema,
});

/** A request the facilitator refuses before any payment logic runs (bad route, body or JSON). */
export class FacilitatorRequestError extends ProofgateError {}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBodyBytes) throw new FacilitatorRequestError('body_too_large', `request body exceeds ${maxBodyBytes} bytes`, 413);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new FacilitatorRequestError('invalid_json', 'request body is not JSON');
  }
}

async function readPaymentRequest(req: IncomingMessage): Promise<{ payload: PaymentPayload; requirements: PaymentRequirements }> {
  const parsed = requestSchema.safeParse(await readJson(req));
  if (!parsed.success) {
    throw new FacilitatorRequestError(
      'invalid_request',
      `expected {x402Version: 2, paymentPayload, paymentRequirements}: ${parsed.error.issues[0]?.message ?? ''}`,
    );
  }
  return { payload: parsed.data.paymentPayload as PaymentPayload, requirements: parsed.data.paymentRequirements as PaymentRequirements };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Starts an x402 facilitator (GET /supported, POST /verify, POST /settle) for the `exact` (EIP-3009 and
 * Permit2) and `upto` (Permit2) schemes on the chain behind `rpcUrl`, using @x402/evm's facilitator
 * schemes with settlement made idempotent per nonce. For `upto`, the requirements' amount sent to
 * /settle is what to charge (≤ the signed maximum; 0 settles without a transaction). A `success:
 * false` answer without a transaction means nothing was broadcast; `settlement_pending` means a
 * transaction was sent whose outcome is not known.
 */
export async function startFacilitator(opts: FacilitatorOptions): Promise<RunningFacilitator> {
  const clients = await connect(opts.rpcUrl, opts.privateKey);
  const network = `eip155:${clients.chain.id}` as const;
  const facilitator = new x402Facilitator();
  const signer = facilitatorEvmSigner(clients);
  registerExactEvmScheme(facilitator, { signer, networks: network });
  facilitator.register(network, new UptoEvmScheme(signer));
  const settle = idempotentSettle(clients.publicClient as PublicClient, (payload, requirements) => facilitator.settle(payload, requirements));

  // x402Facilitator throws on a kind it has no scheme for; the protocol answers it as an invalid payment.
  const unsupportedReason = (requirements: PaymentRequirements): string | undefined =>
    requirements.scheme !== 'exact' && requirements.scheme !== 'upto'
      ? 'unsupported_scheme'
      : requirements.network !== network
        ? 'invalid_network'
        : undefined;

  const server = createServer((req, res) => {
    const route = `${req.method} ${(req.url ?? '').split('?')[0]}`;
    const handle = async () => {
      switch (route) {
        case 'GET /supported':
          return send(res, 200, facilitator.getSupported());
        case 'POST /verify': {
          const { payload, requirements } = await readPaymentRequest(req);
          const unsupported = unsupportedReason(requirements);
          if (unsupported) return send(res, 200, { isValid: false, invalidReason: unsupported });
          return send(res, 200, await facilitator.verify(payload, requirements));
        }
        case 'POST /settle': {
          const { payload, requirements } = await readPaymentRequest(req);
          const unsupported = unsupportedReason(requirements);
          if (unsupported) return send(res, 200, { success: false, errorReason: unsupported, transaction: '', network: requirements.network });
          return send(res, 200, await settle(payload, requirements));
        }
        default:
          throw new FacilitatorRequestError('not_found', `no route ${route}`, 404);
      }
    };
    handle().catch((error: unknown) => {
      if (error instanceof FacilitatorRequestError) return send(res, error.status, { error: error.code, message: error.message });
      send(res, 500, { error: 'internal_error', message: error instanceof Error ? error.message : String(error) });
    });
  });

  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    address: clients.account.address,
    network,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
