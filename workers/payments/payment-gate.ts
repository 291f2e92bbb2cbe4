import type { PaymentPayload, PaymentRequirements, ResourceInfo } from '@x402/core/types';
import { PAYMENT_IDENTIFIER, declarePaymentIdentifierExtension, extractPaymentIdentifier } from '@x402/extensions/payment-identifier';
import { PERMIT2_ADDRESS } from '@x402/evm';
import { and, eq, or } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { bytesToHex, isAddress, type Hex } from 'viem';
import { ProofgateError } from '../../core/errors';
import {
  FacilitatorUnavailableError,
  PaymentRejectedError,
  paymentRequired,
  paymentRequiredHeaders,
  readPayerFunds,
  readPaymentHeader,
  requirementsForPayment,
  settlementPayload,
  verifyEvmPayment,
  verifyWithFacilitator,
  type PayerFunds,
  type VerifiedEvmPayment,
} from '../../core/x402';
import {
  nonceLedger,
  type LookupOutcome,
  type NonceLedger,
  type PaymentReservation,
  type ReservationRef,
  type ReserveOutcome,
} from '../../durable-objects/nonce-ledger';
import { payments } from '../../schema';
import type { Env } from '../env';
import type { ModelVersion } from '../hub/model-store';
import type { CallPrice } from './call-price';
import { loadReply, paidResponse, repliesBucket } from './paid-reply';
import { minValiditySeconds, offersFor, paymentConfig, type PaymentConfig } from './payment-config';
import { paymentRecordId } from './payment-record-id';

/** A priced model on a gateway without x402 settings (or without what its price needs). */
export class PaymentsUnavailableError extends ProofgateError {
  constructor(model: string) {
    super('payments_unavailable', `model "${model}" is priced but this gateway has no payment network configured for it`, 503);
  }
}

/** A payment reserved for one call: what settlement needs to charge it or release it. */
export interface ReservedPayment {
  ledger: DurableObjectStub<NonceLedger>;
  config: PaymentConfig;
  payment: VerifiedEvmPayment;
  /** The requirements the payment was made under (one of `offers`). */
  requirements: PaymentRequirements;
  /** Every requirement the call was offered under (a refused settlement answers with them). */
  offers: PaymentRequirements[];
  resource: ResourceInfo;
  recordId: string;
  /** This call's reservation of the authorization: what settles or releases it. */
  reservation: ReservationRef;
  /** The publisher's price this call was reserved at. */
  price: CallPrice;
  /** x402 scheme of the payment: `exact` settles `maxAmount`; `upto` settles any amount ≤ it. */
  scheme: 'exact' | 'upto';
  /** What the payer authorized, in atomic units: the most this call can be charged. */
  maxAmount: bigint;
  /** Where replies too large for the ledger are kept. */
  replies: R2Bucket;
}

/** What `openPayment` decided: answer now (402, a replayed reply, 409), or charge for the call. */
export type PaymentGate = { kind: 'respond'; response: Response } | { kind: 'charge'; reserved: ReservedPayment };

/**
 * Checks the x402 payment of a priced call before any work, and reserves it. In order: no header →
 * 402 with the requirements; offline verification (scheme, amount, recipient, window, signature) →
 * 402 with the reason; an earlier use of the authorization or payment-identifier → its answer (the
 * first reply again, 409 while in progress, 402 `payment_already_used`); then the chain (balance,
 * nonce, Permit2 and its allowance) and the facilitator (would it settle?) → 402 with the reason,
 * 503 when either cannot be asked; finally the payer's NonceLedger reserves it if their balance covers
 * it and every payment still open. Nothing is stored, and no ledger is touched for a new payer,
 * until the reservation succeeds.
 */
export async function openPayment(
  env: Env,
  request: Request,
  model: ModelVersion,
  price: CallPrice,
  inputHash: Hex,
  nowMs: number,
): Promise<PaymentGate> {
  const config = paymentConfig(env);
  const offers = config && offersFor(config, price);
  if (!config || !offers) throw new PaymentsUnavailableError(model.name);
  const resource: ResourceInfo = { url: request.url, description: `${model.name} v${model.version} inference`, mimeType: 'application/json' };
  const reject = (code: string, message: string): PaymentGate => ({
    kind: 'respond',
    response: paymentRequiredResponse(resource, offers, code, message),
  });

  let verified: VerifiedEvmPayment;
  let payload: PaymentPayload;
  let identifier: string | null = null;
  try {
    const decoded = readPaymentHeader(request.headers);
    if (!decoded)
      return reject('payment_required', `this call costs ${price.kind === 'metered' ? 'up to ' : ''}${price.amount} atomic units of ${config.asset}`);
    const requirements = requirementsForPayment(decoded, offers);
    verified = await verifyEvmPayment({
      payment: decoded,
      requirements,
      now: Math.floor(nowMs / 1000),
      minValiditySeconds: minValiditySeconds(config),
    });
    if (decoded.x402Version === 2) identifier = extractPaymentIdentifier(decoded.original as PaymentPayload, true);
    payload = settlementPayload(decoded, requirements);
  } catch (err) {
    if (err instanceof PaymentRejectedError) return reject(err.code, err.message);
    throw err;
  }

  const recordId = await paymentRecordId(verified.nonceKey);
  const requestHash = await requestHashOf(model, price, inputHash);
  const ledger = nonceLedger(env.NONCE_LEDGER, verified.payer);
  const replies = repliesBucket(env);
  const earlier = { nonceKey: verified.nonceKey, paymentIdentifier: identifier, requestHash };
  // Asked together: whether there was a first try (D1 says, without creating the payer's ledger),
  // the chain, and the facilitator. A retry gets the answer of its first try even when the chain
  // now shows the nonce used or cannot be read.
  const readAt = Date.now();
  const [seen, chain, verdict] = await Promise.allSettled([
    seenBefore(env.DB, verified, identifier),
    readPayerFunds(config.rpcUrl, { method: verified.method, asset: config.asset, payer: verified.payer, nonce: verified.authorization.nonce }),
    verifyWithFacilitator(config.facilitatorUrl, payload, verified.requirements),
  ]);
  if (seen.status === 'rejected') throw seen.reason;
  if (seen.value) {
    const prior = await ledger.lookup(earlier);
    if (prior.outcome !== 'none') return answerEarlier(prior, replies, reject);
  }
  if (chain.status === 'rejected') throw chain.reason;
  if (verdict.status === 'rejected') throw verdict.reason;
  const funds = chain.value;
  const problem = chainProblem(funds, verified);
  if (problem) return reject(problem.code, problem.message);
  if (verdict.value.outcome === 'unavailable') {
    console.warn(`facilitator /verify unavailable: ${verdict.value.error}`);
    throw new FacilitatorUnavailableError('the payment facilitator could not be reached; try again shortly');
  }
  if (verdict.value.outcome === 'invalid')
    return reject('payment_not_settleable', `the facilitator would not settle this payment (${verdict.value.reason})`);

  const reservation: PaymentReservation = {
    recordId,
    reservationId: crypto.randomUUID(),
    ...earlier,
    payer: verified.payer,
    network: verified.requirements.network,
    asset: verified.requirements.asset,
    payTo: verified.requirements.payTo,
    scheme: verified.scheme,
    method: verified.method,
    amount: verified.authorization.value.toString(),
    nonce: verified.authorization.nonce,
    validBefore: verified.authorization.validBefore.toString(),
    model: model.name,
    version: model.version,
    settlement: price.settlement,
    payload,
    requirements: verified.requirements,
    facilitatorUrl: config.facilitatorUrl,
    rpcUrl: config.rpcUrl,
    settleTimeoutMs: config.settleTimeoutMs,
    reservationTtlMs: config.reservationTtlMs,
  };
  const credit = { balance: funds.balance.toString(), permit2Allowance: funds.permit2Allowance?.toString() ?? null, readAt };
  const outcome = await ledger.reserve(reservation, credit);
  if (outcome.outcome !== 'reserved') return answerEarlier(outcome, replies, reject);
  return {
    kind: 'charge',
    reserved: {
      ledger,
      config,
      payment: verified,
      requirements: verified.requirements,
      offers,
      resource,
      recordId,
      reservation: { nonceKey: reservation.nonceKey, reservationId: reservation.reservationId },
      price,
      scheme: verified.scheme,
      maxAmount: verified.authorization.value,
      replies,
    },
  };
}

// What a payment-identifier binds: this model, version and price, and these inputs.
async function requestHashOf(model: ModelVersion, price: CallPrice, inputHash: Hex): Promise<Hex> {
  const text = `${model.name}\n${model.version}\n${model.sha256}\n${price.kind}:${price.amount}\n${inputHash}`;
  return bytesToHex(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))));
}

async function seenBefore(db: D1Database, verified: VerifiedEvmPayment, identifier: string | null): Promise<boolean> {
  const byNonce = eq(payments.nonceKey, verified.nonceKey);
  const where = identifier ? or(byNonce, and(eq(payments.payer, verified.payer), eq(payments.paymentIdentifier, identifier))) : byNonce;
  const rows = await drizzle(db).select({ id: payments.id }).from(payments).where(where).limit(1);
  return rows.length > 0;
}

// Before any work: what would make the settlement fail on chain.
function chainProblem(funds: PayerFunds, p: VerifiedEvmPayment): { code: string; message: string } | null {
  const amount = p.authorization.value;
  if (funds.permit2Deployed === false) return { code: 'permit2_unavailable', message: `this chain has no Permit2 contract at ${PERMIT2_ADDRESS}` };
  if (funds.authorizationUsed) return { code: 'authorization_already_used', message: 'this authorization was already used on chain' };
  if (funds.balance < amount) return { code: 'insufficient_funds', message: `payer ${p.payer} holds ${funds.balance}, needs ${amount}` };
  if (funds.permit2Allowance !== null && funds.permit2Allowance < amount) {
    return {
      code: 'permit2_allowance_required',
      message: `payer ${p.payer} allows Permit2 (${PERMIT2_ADDRESS}) ${funds.permit2Allowance}, needs ${amount}: approve Permit2 for the token first`,
    };
  }
  return null;
}

async function answerEarlier(
  prior: Exclude<LookupOutcome | ReserveOutcome, { outcome: 'none' } | { outcome: 'reserved' }>,
  replies: R2Bucket,
  reject: (code: string, message: string) => PaymentGate,
): Promise<PaymentGate> {
  switch (prior.outcome) {
    case 'cached': {
      const result = await loadReply(replies, prior.reply);
      if (result === null)
        return { kind: 'respond', response: conflict('payment_reply_gone', 'the reply of this payment identifier is no longer kept') };
      return { kind: 'respond', response: paidResponse(result, prior.payment, { network: prior.network, payer: prior.payer, replayed: true }) };
    }
    case 'in_progress':
      return {
        kind: 'respond',
        response: conflict('payment_in_progress', `payment ${prior.recordId} is being used by a call in progress; retry shortly`),
      };
    case 'identifier_conflict':
      return { kind: 'respond', response: conflict('payment_identifier_conflict', 'this payment identifier was used for a different request') };
    case 'replay':
      if (prior.delivered) {
        // The same request again: its answer was delivered and paid for, so say where to fetch it.
        return reject(
          'payment_already_used',
          `this authorization already paid for this request (payment ${prior.recordId}, ${prior.state}); its result is at /v1/payments/${prior.recordId}/result for whoever presents the same payment header`,
        );
      }
      return reject('payment_already_used', `this authorization was already used (payment ${prior.recordId}, ${prior.state})`);
    case 'insufficient_credit':
      return reject(
        'insufficient_funds',
        `the payer holds ${prior.balance}, of which ${prior.outstanding} is already reserved or pending for earlier calls; this call needs ${prior.needed}`,
      );
  }
}

/**
 * The payer a payment header names (not yet verified), for policy admission, which runs before
 * payment verification; a forged claim is refused right after by openPayment.
 */
export function claimedPayer(headers: Headers): string | null {
  try {
    const payload = readPaymentHeader(headers)?.payload as
      | { authorization?: { from?: unknown }; permit2Authorization?: { from?: unknown } }
      | undefined;
    const from = payload?.authorization?.from ?? payload?.permit2Authorization?.from;
    return typeof from === 'string' && isAddress(from, { strict: false }) ? from.toLowerCase() : null;
  } catch {
    return null;
  }
}

/** A 402 answer: the requirements (header and body) with the reason the payment was refused. */
export function paymentRequiredResponse(resource: ResourceInfo, offers: PaymentRequirements[], code: string, message: string): Response {
  const body = { ...paymentRequired(resource, offers, code), extensions: { [PAYMENT_IDENTIFIER]: declarePaymentIdentifierExtension(false) } };
  return new Response(JSON.stringify({ ...body, message }), {
    status: 402,
    headers: { 'content-type': 'application/json', ...paymentRequiredHeaders(body as never) },
  });
}

function conflict(code: string, message: string): Response {
  return new Response(JSON.stringify({ error: { code, message } }), {
    status: 409,
    headers: { 'content-type': 'application/json', 'retry-after': '1', 'cache-control': 'no-store' },
  });
}
