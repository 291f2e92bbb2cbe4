import type { PaymentPayload, PaymentRequirements, ResourceInfo } from '@x402/core/types';
import { PAYMENT_IDENTIFIER, declarePaymentIdentifierExtension, extractPaymentIdentifier } from '@x402/extensions/payment-identifier';
import { PERMIT2_ADDRESS } from '@x402/evm';
import { createPublicClient, http, isAddress, parseAbi, type Hex } from 'viem';
import { ProofgateError } from '../../core/errors';
import {
  PaymentRejectedError,
  paymentRequired,
  paymentRequiredHeaders,
  readPaymentHeader,
  verifyExactEvmPayment,
  type VerifiedExactEvmPayment,
} from '../../core/x402';
import { nonceLedger, type NonceLedger } from '../../durable-objects/nonce-ledger';
import type { Env } from '../env';
import type { ModelVersion } from '../hub/model-store';
import { paymentConfig, requirementsFor, type PaymentConfig } from './payment-config';
import { paymentRecordId } from './payment-record-id';

/** A priced model on a gateway without x402 settings. */
export class PaymentsUnavailableError extends ProofgateError {
  constructor(model: string) {
    super('payments_unavailable', `model "${model}" is priced but this gateway has no payment network configured`, 503);
  }
}

// How long an authorization must stay valid beyond now: room to run the model and settle after it.
const SYNC_MIN_VALIDITY_S = 30;

const tokenAbi = parseAbi([
  'function balanceOf(address) view returns (uint256)',
  'function authorizationState(address authorizer, bytes32 nonce) view returns (bool)',
]);

/** A payment reserved for one call: what settlement needs to charge it or release it. */
export interface ReservedPayment {
  ledger: DurableObjectStub<NonceLedger>;
  config: PaymentConfig;
  payment: VerifiedExactEvmPayment;
  requirements: PaymentRequirements;
  resource: ResourceInfo;
  recordId: string;
  settlement: 'sync' | 'async';
}

/** What `openPayment` decided: answer now (402, a cached replay, 409), or charge for the call. */
export type PaymentGate = { kind: 'respond'; response: Response } | { kind: 'charge'; reserved: ReservedPayment };

/**
 * Checks the x402 payment of a priced call before any work: no header → 402 with the requirements;
 * a bad payment → 402 with the reason; then the authorization is reserved once in the payer's
 * NonceLedger. A payment-identifier seen before gets the first response back.
 */
export async function openPayment(env: Env, request: Request, model: ModelVersion, requestHash: Hex, nowMs: number): Promise<PaymentGate> {
  const config = paymentConfig(env);
  if (!config) throw new PaymentsUnavailableError(model.name);
  const requirements = requirementsFor(config, model.price);
  const resource: ResourceInfo = { url: request.url, description: `${model.name} v${model.version} inference`, mimeType: 'application/json' };
  const reject = (code: string, message: string): PaymentGate => ({
    kind: 'respond',
    response: paymentRequiredResponse(resource, requirements, code, message),
  });
  let verified: VerifiedExactEvmPayment;
  let identifier: string | null = null;
  try {
    const decoded = readPaymentHeader(request.headers);
    if (!decoded) return reject('payment_required', `this call costs ${model.price} atomic units of ${config.asset}`);
    verified = await verifyExactEvmPayment({
      payment: decoded,
      requirements,
      now: Math.floor(nowMs / 1000),
      minValiditySeconds: model.settlement === 'sync' ? SYNC_MIN_VALIDITY_S : undefined,
    });
    if (decoded.x402Version === 2) identifier = extractPaymentIdentifier(decoded.original as PaymentPayload, true);
  } catch (err) {
    if (err instanceof PaymentRejectedError) return reject(err.code, err.message);
    throw err;
  }
  const ledger = nonceLedger(env.NONCE_LEDGER, verified.payer);
  const recordId = await paymentRecordId(verified.nonceKey);
  const outcome = await ledger.reserve({
    recordId,
    nonceKey: verified.nonceKey,
    paymentIdentifier: identifier,
    requestHash,
    payer: verified.payer,
    network: requirements.network,
    asset: requirements.asset,
    payTo: requirements.payTo,
    amount: verified.authorization.value.toString(),
    nonce: verified.authorization.nonce,
    model: model.name,
    version: model.version,
    settlement: model.settlement,
    payload: verified.paymentPayload as PaymentPayload,
    requirements,
    facilitatorUrl: config.facilitatorUrl,
  });
  switch (outcome.outcome) {
    case 'reserved': {
      // Reserved first, so concurrent copies of one authorization stop at the ledger, not at the chain.
      const chainProblem = await checkOnChain(config, verified);
      if (chainProblem) {
        await ledger.release(verified.nonceKey, chainProblem.code);
        return reject(chainProblem.code, chainProblem.message);
      }
      return { kind: 'charge', reserved: { ledger, config, payment: verified, requirements, resource, recordId, settlement: model.settlement } };
    }
    case 'cached':
      return {
        kind: 'respond',
        response: new Response(outcome.response.body, {
          status: outcome.response.status,
          headers: { ...outcome.response.headers, 'proofgate-replayed': 'true' },
        }),
      };
    case 'in_progress':
      return {
        kind: 'respond',
        response: conflict('payment_in_progress', `payment ${outcome.recordId} is being used by a call in progress; retry shortly`),
      };
    case 'identifier_conflict':
      return { kind: 'respond', response: conflict('payment_identifier_conflict', 'this payment identifier was used for a different request') };
    case 'replay':
      return reject('payment_already_used', `this authorization was already used (payment ${outcome.recordId}, ${outcome.state})`);
  }
}

/**
 * The payer a payment header names (not yet verified), for policy admission, which runs before
 * payment verification; a forged claim is refused right after by openPayment.
 */
export function claimedPayer(headers: Headers): string | null {
  try {
    const from = (readPaymentHeader(headers)?.payload['authorization'] as { from?: unknown } | undefined)?.from;
    return typeof from === 'string' && isAddress(from, { strict: false }) ? from.toLowerCase() : null;
  } catch {
    return null;
  }
}

// Balance and nonce state, when the edge can reach the chain: a payer who cannot pay, an
// authorization already used on chain, or a Permit2 payment on a chain without Permit2 is refused
// before any work.
async function checkOnChain(config: PaymentConfig, p: VerifiedExactEvmPayment): Promise<{ code: string; message: string } | null> {
  if (!config.rpcUrl) return null;
  const client = createPublicClient({ transport: http(config.rpcUrl, { timeout: 5_000, retryCount: 0 }) });
  try {
    const [balance, used, permit2Code] = await Promise.all([
      client.readContract({ address: config.asset, abi: tokenAbi, functionName: 'balanceOf', args: [p.payer] }),
      p.method === 'eip3009'
        ? client.readContract({ address: config.asset, abi: tokenAbi, functionName: 'authorizationState', args: [p.payer, p.authorization.nonce] })
        : false,
      p.method === 'permit2' ? client.getCode({ address: PERMIT2_ADDRESS }) : undefined,
    ]);
    if (p.method === 'permit2' && (!permit2Code || permit2Code === '0x')) {
      return { code: 'permit2_unavailable', message: `this chain has no Permit2 contract at ${PERMIT2_ADDRESS}` };
    }
    if (used) return { code: 'authorization_already_used', message: 'this authorization was already used on chain' };
    if (balance < p.authorization.value)
      return { code: 'insufficient_funds', message: `payer ${p.payer} holds ${balance}, needs ${p.authorization.value}` };
    return null;
  } catch (err) {
    // An unreachable chain does not block the edge: the facilitator checks again at settlement.
    console.warn(`chain check skipped: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    return null;
  }
}

/** A 402 answer: the requirements (header and body) with the reason the payment was refused. */
export function paymentRequiredResponse(resource: ResourceInfo, requirements: PaymentRequirements, code: string, message: string): Response {
  const body = { ...paymentRequired(resource, [requirements], code), extensions: { [PAYMENT_IDENTIFIER]: declarePaymentIdentifierExtension(false) } };
  return new Response(JSON.stringify({ ...body, message }), {
    status: 402,
    headers: { 'content-type': 'application/json', ...paymentRequiredHeaders(body as never) },
  });
}

function conflict(code: string, message: string): Response {
  return new Response(JSON.stringify({ error: { code, message } }), {
    status: 409,
    headers: { 'content-type': 'application/json', 'retry-after': '1' },
  });
}
