/**
 * One inference call, start to finish: `POST /v1/models/{name}/infer`, or the Open Inference
 * Protocol's `POST /v2/models/{name}[/versions/{v}]/infer`. The stages run in this order,
 * and each happens before anything that depends on it:
 *   1. admit    the model's Rego policy decides on the caller, before the body is read or a payment touched
 *   2. read     the body, capped by what the model's inputs can take
 *   3. validate each tensor's name, type and dims against the model before its data is read or converted
 *   4. pay      x402 (priced models only): refused → 402; the payment authorization is reserved once (its maximum)
 *   5. run      on a backend chosen from this isolate's pool snapshot, with the call's terms (policy, pricing,
 *               payment: call-terms.ts); the receipt, which signs them with the charge, is verified before anything else
 *   6. settle   charge what the receipt signed and answer in the encoding asked for (or release it if anything above failed)
 *   7. record   the verified receipt of a delivered result, persisted off the answer's path (waitUntil);
 *               a result withheld (its settlement refused) leaves no receipt
 * How the body is read and the answer written is the call's form (call-form.ts: Proofgate's own,
 * request-inputs.ts and reply-format.ts, or the Open Inference Protocol's, kserve/form.ts); how the
 * backend is called is dispatch-inference.ts; so other request forms, other ways of running (several
 * backends), and other receipts can replace one stage without touching the rest. What is charged
 * is the verified receipt's `charged`, nothing the Worker computes on its own.
 */
import { ProofgateError } from '../../core/errors';
import type { Env } from '../env';
import { resolveCaller } from '../callers/api-keys';
import { modelVersionCache } from '../hub/model-cache';
import type { ModelVersion } from '../hub/model-store';
import type { Hex } from 'viem';
import { byteLimit } from '../http/request-body';
import { admissionHeaders, checkAdmission, compiledPolicies } from '../policies/admission';
import { cachedModelPolicyId, getPolicy } from '../policies/policy-store';
import { currentPrice, type CallPrice } from '../payments/call-price';
import { claimedPayer, openPayment, type ReservedPayment } from '../payments/payment-gate';
import { releasePayment, settlePayment } from '../payments/payment-settlement';
import { recordCall } from './call-metrics';
import { callTerms } from './call-terms';
import { dispatchInference, type InferenceResult } from './dispatch-inference';
import { persistReceipt } from './receipt-store';
import { type CallForm, proofgateForm } from './call-form';
import { jsonReplyBody } from './reply-format';
import { quorumInferenceCall } from './quorum/call';
import { callMode } from './quorum/mode';

/** Largest inference body unless `MAX_BODY_BYTES` says otherwise. */
export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;

/** What the caller asked for: a model name and optionally a version. */
export interface InferenceTarget {
  name: string;
  version: number | undefined;
}

/** The Worker's per-request context: what a stage may leave running after the answer. */
export interface CallContext {
  waitUntil(promise: Promise<unknown>): void;
}

/**
 * Runs one inference call through every stage and returns the answer (errors are thrown as
 * ProofgateError). `form` reads the body and writes the answers: Proofgate's own unless another
 * protocol's is given (the Open Inference Protocol's, kserve/form.ts).
 */
export async function runInferenceCall(
  env: Env,
  ctx: CallContext,
  request: Request,
  target: InferenceTarget,
  form: CallForm = proofgateForm(request),
): Promise<Response> {
  const startedMs = Date.now();
  const observed: { model: string; backendMs: number | null } = { model: 'unknown', backendMs: null };
  let status = 500;
  try {
    const response = await inferenceCall(env, ctx, request, target, form, startedMs, observed);
    status = response.status;
    return response;
  } catch (err) {
    status = err instanceof ProofgateError ? err.status : 500;
    throw err;
  } finally {
    const encoding = form.encoding();
    recordCall(
      { pool: env.BACKEND_POOL, dataset: env.CALL_METRICS, waitUntil: (p) => ctx.waitUntil(p) },
      { model: observed.model, status, encoding, totalMs: Date.now() - startedMs, backendMs: observed.backendMs },
      Date.now(),
    );
  }
}

async function inferenceCall(
  env: Env,
  ctx: CallContext,
  request: Request,
  target: InferenceTarget,
  form: CallForm,
  nowMs: number,
  observed: { model: string; backendMs: number | null },
): Promise<Response> {
  const mode = callMode(new URL(request.url)); // quorum mode: quorum/call.ts; tee and zkml: 501 before any work
  const { model, price, policyId } = await admit(env, request, target, nowMs);
  observed.model = model.name;
  const inputs = await form.readInputs(model, byteLimit(env.MAX_BODY_BYTES, DEFAULT_MAX_BODY_BYTES));
  if (mode.kind === 'quorum') return quorumInferenceCall(env, ctx, request, { model, price, policyId, inputs, form, k: mode.k }, nowMs, observed);

  let payment: ReservedPayment | null = null;
  if (price.amount !== '0') {
    const gate = await openPayment(env, request, model, price, inputs.hash, nowMs);
    if (gate.kind === 'respond') return form.gateReply(model, gate.response);
    payment = gate.reserved;
  }

  let result: InferenceResult;
  try {
    result = await dispatchInference({
      pool: env.BACKEND_POOL,
      gatewaySecret: env.GATEWAY_SECRET,
      waitUntil: (p) => ctx.waitUntil(p),
      model,
      inputBytes: inputs.bytes,
      inputHash: inputs.hash,
      terms: callTerms(policyId, price, payment),
    });
  } catch (err) {
    if (payment) await releasePayment(payment, err);
    throw err;
  }
  observed.backendMs = result.backendMs;
  const record = (): void => persistReceipt({ db: env.DB, fallback: env.REPLIES ?? env.MODELS }, result.receipt, (p) => ctx.waitUntil(p), Date.now());

  if (!payment) {
    record();
    return form.reply(model, result);
  }
  // The ledger keeps Proofgate's JSON answer (what a payment-identifier retry gets, in any form).
  const settled = await settlePayment(payment, result.receipt.requestId, jsonReplyBody(model, result), { amount: result.receipt.charged });
  if (settled.status === 200) record();
  return form.paidReply(model, result, settled);
}

/** What admission settled: the model version to run, its current price, and the policy that admitted the call (null: none bound). */
interface Admitted {
  model: ModelVersion;
  price: CallPrice;
  policyId: Hex | null;
}

// Stage 1. The model version (cached in the isolate: versions are immutable), its current price
// (read from D1 on every call: the price is what the publisher says now), its policy binding and
// the API key are read together, in one round of D1 reads; their errors are reported in that
// order, so the same bad request always gets the same answer. A paid call's caller is the payer its
// payment header names (verified in stage 4).
async function admit(env: Env, request: Request, target: InferenceTarget, nowMs: number): Promise<Admitted> {
  const reads = await Promise.allSettled([
    modelVersionCache.get(env.DB, target.name, target.version, nowMs),
    currentPrice(env.DB, target.name),
    cachedModelPolicyId(env.DB, target.name, nowMs),
    resolveCaller(env.DB, request, nowMs),
  ] as const);
  for (const r of reads) if (r.status === 'rejected') throw r.reason;
  const [model, price, policyId, keyCaller] = reads.map((r) => (r as PromiseFulfilledResult<unknown>).value) as [
    ModelVersion,
    CallPrice,
    Awaited<ReturnType<typeof cachedModelPolicyId>>,
    Awaited<ReturnType<typeof resolveCaller>>,
  ];
  if (policyId) {
    const caller = (price.amount !== '0' ? claimedPayer(request.headers) : null) ?? keyCaller;
    checkAdmission(
      compiledPolicies.byId(policyId) ?? compiledPolicies.get(await getPolicy(env.DB, policyId)),
      {
        caller,
        model: model.name,
        version: model.version,
        price: price.amount,
        method: request.method,
        path: new URL(request.url).pathname,
        headers: admissionHeaders(request.headers),
        time: new Date(nowMs).toISOString(),
      },
      nowMs,
    );
  }
  return { model, price, policyId };
}
