/**
 * A quorum inference call, `POST /v1/models/{name}/infer?mode=quorum&k=N` (or the Open Inference
 * Protocol's path with the same query): the stages of a single call (admission, reading and
 * validating the body: inference-call.ts) and then, instead of one backend,
 *   1. choose   k distinct operators (registry members with positive stake on chain, whose backends
 *               proved with the operator's BLS key that they belong to it), most stake first; refuse
 *               503 before any payment or work when there are fewer, or when k of them could not
 *               make the model's quorum even agreeing
 *   2. pay      x402 for k runs (price × k), reserved only, never charged before the attestation
 *   3. run      phase 1: the same canonical input on one backend of each operator, each receipt
 *               verified as a single call's is; a failed operator is replaced by the next one
 *   4. attest   phase 2, in the request's InferenceQuorum Durable Object: the reference output fixed
 *               by stake (identical, or floats within the model's declared tolerance), each agreeing
 *               operator's BLS signature over the inference digest checked, the aggregate formed
 *               once the signers hold the model's quorum; disagreement → 502 `quorum_disagreement`
 *   5. settle   charge the sum the receipts signed (k × price for a fixed price) and answer with the
 *               reference outputs, every receipt and the attestation; otherwise release the payment
 * The evidence (every receipt and output hash, who agreed and signed) stays at
 * `GET /v1/inference-quorums/{requestId}` whatever the outcome.
 */
import { bytesToHex, type Address, type Hex } from 'viem';
import { quorumRunRequestId } from '../../../core/backend-protocol';
import { ProofgateError, unwrapRpc } from '../../../core/errors';
import { backendPool } from '../../../durable-objects/backend-pool';
import { inferenceQuorum, type QuorumRun, type QuorumView } from '../../../durable-objects/inference-quorum';
import type { Env } from '../../env';
import type { ModelVersion } from '../../hub/model-store';
import { operatorRegistryChain } from '../../operators/registry-snapshots';
import type { CallPrice } from '../../payments/call-price';
import { openPayment, type ReservedPayment } from '../../payments/payment-gate';
import { releasePayment, settlePayment } from '../../payments/payment-settlement';
import type { CallForm } from '../call-form';
import { callTerms } from '../call-terms';
import { BackendFailedError, ModelRejectedInputError, callBackend, type DispatchOptions, type InferenceResult } from '../dispatch-inference';
import type { CallContext } from '../inference-call';
import { persistReceipt } from '../receipt-store';
import { jsonReplyBody } from '../reply-format';
import { quorumJsonFields, quorumPrice, withQuorum, withQuorumPrice, type QuorumExtras } from './reply';
import { checkQuorumReachable, quorumCandidates, type OperatorCandidate } from './selection';
import type { CallInputs } from '../request-inputs';

/** How long an inference attestation stays usable (s). */
export const QUORUM_ATTESTATION_VALIDITY_S = 3_600;
/** Largest output a quorum run may return: every operator's output travels to the request's Durable Object. */
export const QUORUM_MAX_OUTPUT_BYTES = 8 * 1024 * 1024;

/** The operators did not agree on an output by the model's quorum; the evidence is kept at `evidence`. */
export class QuorumDisagreementError extends ProofgateError {
  constructor(view: QuorumView, evidence: string) {
    super('quorum_disagreement', view.failure?.message ?? 'the operators did not agree', 502, { requestId: view.requestId, evidence });
  }
}

/** The operators agreed but the attestation could not be formed (too few signed, or failed operators left too little stake). */
export class QuorumFailedError extends ProofgateError {
  constructor(view: QuorumView, evidence: string) {
    super(view.failure?.code ?? 'quorum_failed', view.failure?.message ?? 'no attestation could be formed', 502, {
      requestId: view.requestId,
      evidence,
    });
  }
}

/** What the single call's first stages settled, for the quorum call to go on from. */
export interface AdmittedQuorumCall {
  model: ModelVersion;
  price: CallPrice;
  policyId: Hex | null;
  inputs: CallInputs;
  form: CallForm;
  k: number;
}

/** Runs a quorum call after admission and validation (inference-call.ts); returns the answer or throws ProofgateError. */
export async function quorumInferenceCall(
  env: Env,
  ctx: CallContext,
  request: Request,
  call: AdmittedQuorumCall,
  nowMs: number,
  observed: { backendMs: number | null },
): Promise<Response> {
  const { model, price, policyId, inputs, form, k } = call;
  const chain = operatorRegistryChain(env);
  const [registry, chainId, pool] = await Promise.all([chain.latest(), chain.chainId(), backendPool(env.BACKEND_POOL).snapshot()]);
  const candidates = quorumCandidates(pool, registry, model.sha256);
  checkQuorumReachable(candidates, registry, k, model.quorum.thresholdBps, model.name);

  let payment: ReservedPayment | null = null;
  if (price.amount !== '0') {
    const gate = await openPayment(env, request, model, quorumPrice(price, k), inputs.hash, nowMs);
    if (gate.kind === 'respond') return form.gateReply(model, await withQuorumPrice(gate.response, price, k));
    payment = gate.reserved;
  }

  const requestId = bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
  const evidence = new URL(`/v1/inference-quorums/${requestId}`, request.url).href;
  let view: QuorumView;
  let reference: InferenceResult;
  try {
    const dispatch: DispatchOptions = {
      pool: env.BACKEND_POOL,
      gatewaySecret: env.GATEWAY_SECRET,
      waitUntil: (p) => ctx.waitUntil(p),
      model,
      inputBytes: inputs.bytes,
      inputHash: inputs.hash,
      // Each run is one run at the price per run: the receipts' charges add up to the quorum's price.
      terms: callTerms(policyId, price, payment),
      maxOutputBytes: QUORUM_MAX_OUTPUT_BYTES,
    };
    const { runs, failed, results } = await runOnOperators(dispatch, candidates, k, requestId);
    observed.backendMs = Math.max(...results.map((r) => r.backendMs));
    view = unwrapRpc(
      await inferenceQuorum(env.INFERENCE_QUORUM, requestId).decide({
        terms: {
          requestId,
          modelSha256: model.sha256,
          inputHash: inputs.hash,
          chainId,
          expiration: Math.floor(nowMs / 1000) + QUORUM_ATTESTATION_VALIDITY_S,
          tolerance: model.quorum.tolerance,
          thresholdBps: model.quorum.thresholdBps,
          registry: registry.address,
          registryBlock: registry.blockNumber,
        },
        model: { name: model.name, version: model.version },
        registry: { ...registry, operators: registry.operators.map((o) => ({ ...o, stake: String(o.stake) })) },
        runs,
        failed,
      }),
    );
    if (!view.attestation) throw view.status === 'disagreed' ? new QuorumDisagreementError(view, evidence) : new QuorumFailedError(view, evidence);
    const referenceOperator = view.reference!.operatorId;
    reference = results[runs.findIndex((r) => r.operatorId === referenceOperator)]!;
  } catch (err) {
    if (payment) await releasePayment(payment, err);
    throw err;
  }

  const receipts = [reference.receipt, ...view.receipts.filter((r) => r.requestId !== reference.receipt.requestId)];
  const extras: QuorumExtras = { receipts, attestation: view.attestation, quorum: { requestId, k, evidence } };
  const record = (): void => {
    for (const receipt of receipts) persistReceipt({ db: env.DB, fallback: env.REPLIES ?? env.MODELS }, receipt, (p) => ctx.waitUntil(p), Date.now());
  };
  if (!payment) {
    record();
    return withQuorum(form.reply(model, reference), extras);
  }
  // What is charged is what the receipts signed: each run's charge under the price per run.
  const charged = receipts.reduce((sum, r) => sum + BigInt(r.charged ?? '0'), 0n);
  const body = { ...jsonReplyBody(model, reference), ...quorumJsonFields(extras) };
  const settled = await settlePayment(payment, requestId, body, { amount: charged });
  if (settled.status === 200) record();
  return withQuorum(await form.paidReply(model, reference, settled), extras);
}

/**
 * Phase 1: runs the call on one backend of each of the first k operators at once; an operator whose
 * backend fails is replaced by the next candidate. Returns the k verified runs (in candidate order),
 * the operators that failed, and each run's result.
 */
async function runOnOperators(
  dispatch: DispatchOptions,
  candidates: readonly OperatorCandidate[],
  k: number,
  requestId: Hex,
): Promise<{ runs: QuorumRun[]; failed: { operatorId: string; reason: string }[]; results: InferenceResult[] }> {
  const queue = [...candidates];
  const done: { candidate: OperatorCandidate; run: QuorumRun; result: InferenceResult }[] = [];
  const failed: { operatorId: string; reason: string }[] = [];
  const worker = async (): Promise<void> => {
    for (let c = queue.shift(); c; c = queue.shift()) {
      const runRequestId = quorumRunRequestId(requestId, c.route.address as Address);
      try {
        const result = await callBackend(dispatch, c.route, runRequestId);
        const run: QuorumRun = {
          operatorId: c.operatorId,
          backendId: c.route.id,
          backend: c.route.address as Address,
          url: c.route.url,
          runRequestId,
          receipt: result.receipt,
          outputBytes: result.outputBytes,
        };
        done.push({ candidate: c, run, result });
        return;
      } catch (err) {
        if (err instanceof ModelRejectedInputError) throw err;
        failed.push({ operatorId: c.operatorId, reason: 'backend_failed' });
        dispatch.waitUntil(backendPool(dispatch.pool).reportFailure(c.route.id));
        console.warn(
          `quorum ${requestId}: operator ${c.operatorId}'s backend ${c.route.id} failed: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: k }, worker));
  if (done.length < k) throw new BackendFailedError();
  done.sort((a, b) => candidates.indexOf(a.candidate) - candidates.indexOf(b.candidate));
  return { runs: done.map((d) => d.run), failed, results: done.map((d) => d.result) };
}
