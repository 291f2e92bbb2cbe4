/**
 * One inference call, start to finish: `POST /v1/models/{name}/infer`. The stages run in this order,
 * and each happens before anything that depends on it:
 *   1. admit    the model's Rego policy decides on the caller, before the body is read or a payment touched
 *   2. read     the body, with a byte cap
 *   3. validate the tensors against the model's declared inputs, before any backend or payment
 *   4. pay      x402 (priced models only): refused → 402; the payment authorization is reserved once
 *   5. run      on the least-loaded healthy backend, failing over once; the receipt is verified
 *   6. record   the verified receipt
 *   7. settle   charge the reserved payment and answer (or release it if anything above failed)
 */
import { InvalidRequestError } from '../../core/errors';
import { checkInputs } from '../../core/onnx';
import { TENSORS_MEDIA_TYPE, decodeTensors, encodeTensors, sha256Hex, tensorMapFromJson, tensorMapToJson, type Tensor } from '../../core/tensors';
import type { Env } from '../env';
import { resolveCaller } from '../callers/api-keys';
import { getModelVersion, type ModelVersion } from '../hub/model-store';
import { jsonResponse } from '../http/problem';
import { byteLimit, readBodyLimited } from '../http/request-body';
import { admissionHeaders, checkAdmission, compiledPolicies } from '../policies/admission';
import { getPolicy, modelPolicyId } from '../policies/policy-store';
import { claimedPayer, openPayment, type ReservedPayment } from '../payments/payment-gate';
import { releasePayment, settlePayment } from '../payments/payment-settlement';
import { dispatchInference } from './dispatch-inference';
import { storeReceipt } from './receipt-store';

/** Largest inference body unless `MAX_BODY_BYTES` says otherwise. */
export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;

/** What the caller asked for: a model name and optionally a version. */
export interface InferenceTarget {
  name: string;
  version: number | undefined;
}

/** Runs one inference call through every stage and returns the answer (errors are thrown as ProofgateError). */
export async function runInferenceCall(env: Env, request: Request, target: InferenceTarget): Promise<Response> {
  const nowMs = Date.now();
  const model = await admit(env, request, target, nowMs);
  const body = await readBodyLimited(request, byteLimit(env.MAX_BODY_BYTES, DEFAULT_MAX_BODY_BYTES));
  const inputs = parseInputs(request.headers.get('content-type'), body);
  checkInputs(inputs, model.inputs);
  const inputBytes = encodeTensors(inputs);
  const inputHash = await sha256Hex(inputBytes);

  let payment: ReservedPayment | null = null;
  if (model.price !== '0') {
    const gate = await openPayment(env, request, model, await sha256Hex(new TextEncoder().encode(`${model.sha256}:${inputHash}`)), nowMs);
    if (gate.kind === 'respond') return gate.response;
    payment = gate.reserved;
  }

  let result: Awaited<ReturnType<typeof dispatchInference>>;
  try {
    result = await dispatchInference({ pool: env.BACKEND_POOL, gatewaySecret: env.GATEWAY_SECRET, model, inputBytes, inputHash });
  } catch (err) {
    if (payment) await releasePayment(payment, err instanceof Error ? err.message : String(err));
    throw err;
  }
  await storeReceipt(env.DB, result.receipt, Date.now());

  const reply = {
    model: { name: model.name, version: model.version, sha256: model.sha256 },
    outputs: tensorMapToJson(result.outputs),
    receipt: result.receipt,
  };
  return payment ? settlePayment(payment, result.receipt.requestId, reply) : jsonResponse(reply);
}

// Stage 1. The model version, its policy binding and the API key are independent D1 reads, issued
// together; their errors are reported in that order, so the same bad request always gets the same
// answer. A paid call's caller is the payer its payment header names (verified in stage 4).
async function admit(env: Env, request: Request, target: InferenceTarget, nowMs: number): Promise<ModelVersion> {
  const reads = await Promise.allSettled([
    getModelVersion(env.DB, target.name, target.version),
    modelPolicyId(env.DB, target.name),
    resolveCaller(env.DB, request),
  ] as const);
  for (const r of reads) if (r.status === 'rejected') throw r.reason;
  const [model, policyId, keyCaller] = reads.map((r) => (r as PromiseFulfilledResult<unknown>).value) as [
    ModelVersion,
    Awaited<ReturnType<typeof modelPolicyId>>,
    Awaited<ReturnType<typeof resolveCaller>>,
  ];
  if (policyId) {
    const caller = (model.price !== '0' ? claimedPayer(request.headers) : null) ?? keyCaller;
    checkAdmission(
      compiledPolicies.get(await getPolicy(env.DB, policyId)),
      {
        caller,
        model: model.name,
        version: model.version,
        price: model.price,
        method: request.method,
        path: new URL(request.url).pathname,
        headers: admissionHeaders(request.headers),
        time: new Date(nowMs).toISOString(),
      },
      nowMs,
    );
  }
  return model;
}

// Stage 2b. JSON tensors, or the canonical binary encoding when the content type says so.
function parseInputs(contentType: string | null, body: Uint8Array): Record<string, Tensor> {
  if (contentType?.startsWith(TENSORS_MEDIA_TYPE)) return decodeTensors(body);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new InvalidRequestError('invalid_json', 'request body is not valid JSON');
  }
  if (typeof json !== 'object' || json === null || !('inputs' in json)) {
    throw new InvalidRequestError('invalid_request', 'body must be {"inputs": {"<name>": {"type", "dims", "data"}}}');
  }
  return tensorMapFromJson((json as { inputs: unknown }).inputs);
}
