/**
 * The inference call as a client makes it: encode the inputs, send them (binary when the gateway
 * answers in binary, JSON otherwise), pay a 402 with the official x402 client within `maxPrice`
 * (`exact`, or `upto` where that is all a metered model offers), fetch the answer again instead of
 * paying again if it is lost, and return the outputs only once their receipt verifies against the
 * gateway's registered backends, the hub's model hash and, for a paid call, the payment made.
 */
import { decodePaymentRequiredHeader, decodePaymentResponseHeader } from '@x402/core/http';
import { isAddress, isAddressEqual, type Address, type Hex, type LocalAccount } from 'viem';
import { isReceiptV2, isUint256Decimal, type InferenceReceipt, type ReceiptVerification } from '../../core/receipts';
import { TENSORS_MEDIA_TYPE, decodeTensors, encodeTensors, tensorMapFromJson, tensorMapToJson } from '../../core/tensors';
import { getModel, listBackends, type ModelVersion } from './api';
import {
  GatewayUnreachableError,
  PriceAboveMaxError,
  ProofgateError,
  ReceiptRejectedError,
  errorFromBody,
  type PaymentRequiredError,
  type X402PaymentRequired,
} from './errors';
import { baseUrl, errorFromResponse, query, rawFetch, type GatewayOptions, type GatewayRequest } from './gateway';
import { recoveringPaidFetch } from './paid-answer-recovery';
import { toTensors, toTypedTensors, type TensorInputs, type TypedTensor } from './tensors';
import { verifyReceipt } from './verify-receipt';

/** Headers of a binary reply (`application/vnd.proofgate.tensors`): the receipt and payment travel here, the outputs in the body. */
export const RECEIPT_HEADER = 'proofgate-receipt';
/** Header of a binary reply with the payment record (`{id, scheme, state, maxAmount, charged, transaction}`), JSON. */
export const PAYMENT_HEADER = 'proofgate-payment';
/** Header of a binary reply naming the model version `{name, version, sha256}`, JSON. */
export const MODEL_HEADER = 'proofgate-model';

/** How the client pays priced models. */
export interface PaymentSettings {
  /** CAIP-2 network to pay on, e.g. "eip155:8453"; default: the one the gateway asks for. */
  network?: `${string}:${string}`;
  /** The token to pay with; default: the one the gateway asks for (still capped by `maxPrice`). */
  asset?: Address;
}

/** What an inference client knows and caches about one gateway. */
export interface InferenceContext {
  gateway: GatewayOptions;
  account?: LocalAccount;
  /** Most one call may cost, in the payment token's smallest units; without it nothing is paid. */
  maxPrice?: string;
  payment?: PaymentSettings;
  /** Backends whose receipts are accepted; default `'gateway'`: the gateway's registered backends. */
  trustedBackends?: readonly Address[] | 'gateway';
  cache: InferenceCache;
}

/** Per-client caches: the registered backends and model versions (immutable). */
export interface InferenceCache {
  backends?: Address[];
  versions: Map<string, ModelVersion[]>;
}

/** Options of one inference call. */
export interface InferOptions {
  /** Model version (default: the latest). */
  version?: number;
  /** Execution mode a gateway may offer (e.g. `quorum`), sent as `?mode=`. */
  mode?: string;
  /** Number of backends for a quorum mode, sent as `?k=`. */
  k?: number;
  /** Verify the receipt before returning (default true). Turn off only to inspect a bad answer. */
  verify?: boolean;
  /** `auto` (default): binary request, binary reply when the gateway offers it, else JSON; `json`: JSON both ways. */
  transport?: 'auto' | 'json';
  /** x402 payment-identifier: a retry with the same id gets the first answer instead of a second charge. */
  paymentId?: string;
}

/** What was paid for a call: the gateway's `payment` record, and the offer this client paid. */
export interface PaymentOutcome {
  /** The gateway's payment record id (`pay_…`), for `getPayment`. */
  id?: string;
  /** `settled` (with the transaction), or `pending` (settling after the answer). */
  state?: string;
  /** The settlement's transaction (none while pending, nor for a charge of 0). */
  transaction?: Hex | null;
  network: string;
  asset: string;
  /** The amount offered and authorized (for `upto`, the most that may be charged). */
  amount: string;
  /** `exact` or `upto`. */
  scheme?: string;
  /** What the payment authorizes, as the gateway recorded it. */
  maxAmount?: string;
  /** What was charged: the receipt's signed `charged` (an `upto` payment may charge less than `amount`). */
  charged?: string | null;
  payer?: string;
  /** True when the answer was lost on the way and fetched again from `/v1/payments/{id}/result` (paid once). */
  replayed?: boolean;
}

/** The answer of `infer`. */
export interface InferResult {
  /** The outputs as typed arrays. */
  outputs: Record<string, TypedTensor>;
  /** The backend's signed receipt (verified unless `verify: false`). */
  receipt: InferenceReceipt;
  /** What was paid, when the model is priced. */
  payment?: PaymentOutcome;
  model: { name: string; version: number; sha256: Hex };
  /** How the outputs came back. */
  transport: 'binary' | 'json';
  /** The canonical encoding of the outputs (what `receipt.outputHash` hashes). */
  outputBytes: Uint8Array;
  /** The canonical encoding of the inputs (what `receipt.inputHash` hashes). */
  inputBytes: Uint8Array;
  /** The verification verdict (null when `verify: false`). */
  verification: ReceiptVerification | null;
  /** Anything else the gateway put in a JSON reply (e.g. a quorum attestation). */
  extra: Record<string, unknown>;
}

/** Runs one inference call (see the module comment). */
export async function infer(ctx: InferenceContext, model: string, inputs: TensorInputs, options: InferOptions = {}): Promise<InferResult> {
  const inputBytes = encodeTensors(toTensors(inputs));
  const json = options.transport === 'json';
  const req: GatewayRequest = {
    method: 'POST',
    path: `/v1/models/${encodeURIComponent(model)}/infer${query({ version: options.version, mode: options.mode, k: options.k })}`,
    auth: 'apiKey',
    body: json ? JSON.stringify({ inputs: tensorMapToJson(toTensors(inputs)) }) : (inputBytes as BodyInit),
    contentType: json ? 'application/json' : TENSORS_MEDIA_TYPE,
    accept: json ? 'application/json' : `${TENSORS_MEDIA_TYPE}, application/json;q=0.5`,
  };
  const baseFetch = ctx.gateway.fetch ?? fetch;
  let res = await rawFetch(ctx.gateway, req, baseFetch);
  let offered: X402PaymentRequired['accepts'][number] | undefined;
  if (res.status === 402) {
    const unpaid = res.clone();
    offered = chooseRequirement(ctx, await paymentOffer(res));
    // The official client starts by sending the request unpaid; it gets the 402 already in hand
    // instead of a second one, then pays and sends the request again.
    let replay: Response | undefined = unpaid;
    // The paid request goes out through recoveringPaidFetch: an answer lost on the way is fetched again, not paid again.
    const paidFetchImpl = recoveringPaidFetch(baseUrl(ctx.gateway), baseFetch);
    const replayFirst: typeof fetch = async (input, init) => {
      const first = replay;
      replay = undefined;
      return first ?? paidFetchImpl(input, init);
    };
    // Loaded only to pay: free calls (and browser pages that never pay) do not load the x402 client.
    const { paidFetch } = await import('./paid-fetch');
    const pay = paidFetch(ctx.account!, {
      network: offered.network as `${string}:${string}`,
      asset: offered.asset as Address,
      maxAmountPerPayment: ctx.maxPrice!,
      ...(options.paymentId ? { paymentId: options.paymentId } : {}),
      scheme: offered.scheme as 'exact' | 'upto',
      fetch: replayFirst,
    });
    try {
      res = await pay(`${baseUrl(ctx.gateway)}${req.path}`, requestInit(ctx, req));
    } catch (err) {
      if (err instanceof TypeError) throw new GatewayUnreachableError(`cannot reach the gateway: ${err.message}`, { cause: err });
      throw new ProofgateError('payment_failed', `the x402 client did not pay: ${err instanceof Error ? err.message : String(err)}`, 402, undefined, {
        cause: err,
      });
    }
  }
  if (!res.ok) throw await errorFromResponse(res);

  const reply = await readReply(res, model);
  if (offered)
    reply.payment = {
      ...reply.payment,
      network: offered.network,
      asset: offered.asset,
      amount: offered.amount,
      scheme: offered.scheme,
    } as PaymentOutcome;
  let verification: ReceiptVerification | null = null;
  if (options.verify !== false) {
    verification = await checkReceipt(ctx, reply.receipt, model, options.version, inputBytes, reply.outputBytes);
    if (offered) verification = checkPayment(verification, reply.receipt, reply.payment, offered, ctx.account!.address);
    if (!verification.valid) throw new ReceiptRejectedError(verification.reasons);
  }
  return {
    outputs: toTypedTensors(decodeTensors(reply.outputBytes)),
    receipt: reply.receipt,
    ...(reply.payment ? { payment: reply.payment } : {}),
    model: reply.model,
    transport: reply.transport,
    outputBytes: reply.outputBytes,
    inputBytes,
    verification,
    extra: reply.extra,
  };
}

function requestInit(ctx: InferenceContext, req: GatewayRequest): RequestInit {
  const headers: Record<string, string> = { 'content-type': req.contentType!, accept: req.accept! };
  if (ctx.gateway.apiKey) headers['authorization'] = `Bearer ${ctx.gateway.apiKey}`;
  return { method: 'POST', headers, body: req.body! };
}

async function paymentOffer(res: Response): Promise<X402PaymentRequired> {
  const header = res.headers.get('payment-required');
  const text = await res.text();
  if (header) {
    try {
      return decodePaymentRequiredHeader(header) as unknown as X402PaymentRequired;
    } catch {
      // fall back to the body
    }
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  const err = errorFromBody(402, body);
  const offer = (err as PaymentRequiredError).paymentRequired;
  if (!offer) throw err;
  return offer;
}

// The one requirement this client may pay: the exact (or upto) scheme, on the pinned network and
// asset when set, at most maxPrice. Refused before the x402 client is involved, whose spend controls then
// enforce the same cap again.
function chooseRequirement(ctx: InferenceContext, offer: X402PaymentRequired): X402PaymentRequired['accepts'][number] {
  const candidates = offer.accepts.filter(
    (a) =>
      (a.scheme === 'exact' || a.scheme === 'upto') &&
      (!ctx.payment?.network || a.network === ctx.payment.network) &&
      (!ctx.payment?.asset || isAddressEqual(a.asset as Address, ctx.payment.asset)),
  );
  const first = candidates[0];
  if (!first || !ctx.account) {
    throw errorFromBody(402, {
      ...offer,
      message: ctx.account
        ? 'no payment option uses the configured network and asset'
        : 'this model is priced: pass an account (and maxPrice) to pay',
    });
  }
  // An `upto` offer's amount is its maximum: that is what must fit under maxPrice. Exact is preferred.
  const affordable = [...candidates]
    .sort((a, b) => Number(b.scheme === 'exact') - Number(a.scheme === 'exact'))
    .find((a) => ctx.maxPrice !== undefined && BigInt(a.amount) <= BigInt(ctx.maxPrice));
  if (!affordable) throw new PriceAboveMaxError(first.amount, ctx.maxPrice, first.asset);
  return affordable;
}

interface Reply {
  receipt: InferenceReceipt;
  outputBytes: Uint8Array;
  model: InferResult['model'];
  payment?: PaymentOutcome;
  transport: 'binary' | 'json';
  extra: Record<string, unknown>;
}

async function readReply(res: Response, model: string): Promise<Reply> {
  const settlement = {
    ...paymentResponse(res.headers.get('payment-response')),
    ...(res.headers.get('proofgate-replayed') === 'true' ? { replayed: true } : {}),
  };
  if (res.headers.get('content-type')?.startsWith(TENSORS_MEDIA_TYPE)) {
    const outputBytes = new Uint8Array(await res.arrayBuffer());
    const receipt = headerJson<InferenceReceipt>(res.headers, RECEIPT_HEADER);
    if (!receipt) throw new ProofgateError('malformed_reply', `a binary reply without its ${RECEIPT_HEADER} header`, 502);
    const payment = headerJson<Record<string, unknown>>(res.headers, PAYMENT_HEADER);
    const named = headerJson<InferResult['model']>(res.headers, MODEL_HEADER);
    return {
      receipt,
      outputBytes,
      model: named ?? { name: receipt.model ?? model, version: receipt.version, sha256: receipt.modelSha256 },
      ...(payment ? { payment: { ...settlement, ...payment } as PaymentOutcome } : {}),
      transport: 'binary',
      extra: {},
    };
  }
  let body: Record<string, unknown>;
  try {
    body = (await res.json()) as Record<string, unknown>;
  } catch {
    throw new ProofgateError('malformed_reply', 'the gateway answered neither tensors nor JSON', 502);
  }
  const { outputs, receipt, model: named, payment, ...extra } = body;
  if (typeof receipt !== 'object' || receipt === null) throw new ProofgateError('malformed_reply', 'the reply has no receipt', 502);
  const r = receipt as InferenceReceipt;
  return {
    receipt: r,
    outputBytes: encodeTensors(tensorMapFromJson(outputs)),
    model: (named as InferResult['model']) ?? { name: r.model ?? model, version: r.version, sha256: r.modelSha256 },
    ...(payment ? { payment: { ...settlement, ...(payment as object) } as PaymentOutcome } : {}),
    transport: 'json',
    extra,
  };
}

function paymentResponse(header: string | null): Partial<PaymentOutcome> | undefined {
  if (!header) return undefined;
  try {
    const r = decodePaymentResponseHeader(header) as { transaction?: Hex; network?: string; payer?: string };
    return { ...(r.transaction ? { transaction: r.transaction } : {}), ...(r.payer ? { payer: r.payer } : {}) };
  } catch {
    return undefined;
  }
}

// Receipt headers are JSON, or base64 JSON (header values must be ASCII).
function headerJson<T>(headers: Headers, name: string): T | undefined {
  const value = headers.get(name);
  if (!value) return undefined;
  const text = value.trimStart().startsWith('{')
    ? value
    : new TextDecoder().decode(Uint8Array.from(atob(value.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0)));
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ProofgateError('malformed_reply', `the ${name} header is not JSON`, 502);
  }
}

async function checkReceipt(
  ctx: InferenceContext,
  receipt: InferenceReceipt,
  model: string,
  version: number | undefined,
  inputBytes: Uint8Array,
  outputBytes: Uint8Array,
): Promise<ReceiptVerification> {
  const trusted = await trustedBackends(ctx, receipt.backend);
  const hubVersion = await modelVersion(ctx, model, receipt.version);
  const verdict = await verifyReceipt(receipt, {
    inputs: inputBytes,
    outputs: outputBytes,
    trustedBackends: trusted,
    ...(hubVersion ? { modelSha256: hubVersion.sha256 } : {}),
  });
  const reasons = [...verdict.reasons];
  if (receipt.model !== model) reasons.push('model_name_mismatch');
  if (!hubVersion || (version !== undefined && receipt.version !== version)) reasons.push('version_mismatch');
  return { valid: reasons.length === 0, signer: verdict.signer, reasons };
}

/**
 * A paid call's receipt must sign the payment this client made (version 2: scheme, network, asset,
 * payer) and a charge within what was authorized, and the gateway's record must charge what the
 * receipt signs: `payment_mismatch` and `charge_above_authorized` otherwise.
 */
function checkPayment(
  verdict: ReceiptVerification,
  receipt: InferenceReceipt,
  payment: PaymentOutcome | undefined,
  offered: X402PaymentRequired['accepts'][number],
  payer: Address,
): ReceiptVerification {
  const reasons = [...verdict.reasons];
  if (!isReceiptV2(receipt)) reasons.push('payment_mismatch');
  else {
    const sameAddress = (a: string, b: string) => isAddress(a, { strict: false }) && isAddress(b, { strict: false }) && isAddressEqual(a, b);
    const named =
      receipt.paymentScheme === offered.scheme &&
      receipt.paymentNetwork === offered.network &&
      sameAddress(receipt.paymentAsset, offered.asset) &&
      sameAddress(receipt.payer, payer);
    if (!named || (payment?.charged != null && payment.charged !== receipt.charged)) reasons.push('payment_mismatch');
    if (isUint256Decimal(receipt.charged) && BigInt(receipt.charged) > BigInt(offered.amount)) reasons.push('charge_above_authorized');
  }
  return { valid: reasons.length === 0, signer: verdict.signer, reasons };
}

// The gateway's registered backends, refreshed once when a receipt names one not seen yet.
async function trustedBackends(ctx: InferenceContext, backend: Address): Promise<readonly Address[]> {
  if (ctx.trustedBackends && ctx.trustedBackends !== 'gateway') return ctx.trustedBackends;
  const known = (list?: Address[]) => list?.some((a) => typeof backend === 'string' && isAddressEqual(a, backend as Address));
  if (!known(ctx.cache.backends)) ctx.cache.backends = (await listBackends(ctx.gateway)).map((b) => b.address);
  return ctx.cache.backends!;
}

// Model versions are immutable: each name's list is fetched again only for a version not seen yet.
async function modelVersion(ctx: InferenceContext, name: string, version: number): Promise<ModelVersion | undefined> {
  let versions = ctx.cache.versions.get(name);
  if (!versions?.some((v) => v.version === version)) {
    versions = await getModel(ctx.gateway, name);
    ctx.cache.versions.set(name, versions);
  }
  return versions.find((v) => v.version === version);
}
