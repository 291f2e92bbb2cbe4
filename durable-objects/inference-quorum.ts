import { DurableObject } from 'cloudflare:workers';
import { bytesToHex, hexToBytes, type Address, type Hex } from 'viem';
import {
  activeOperators,
  aggregateInferenceAttestation,
  computeInferenceDigest,
  fixReferenceOutput,
  meetsQuorum,
  nobleBlsVerifier,
  parseStake,
  registryTotalStake,
  type BlsVerifier,
  type InferenceAttestation,
  type InferenceAttestationRequest,
  type OperatorRegistry,
  type VerifiedInferenceSignature,
} from '../core/attestation';
import { QUORUM_PATHS, quorumSignReplySchema, type QuorumSignRequest } from '../core/backend-protocol';
import { ProofgateError, toRpcResult, type RpcResult } from '../core/errors';
import { backendAuthLabel, deriveNodeAuthKey, gatewayRequestHeaders } from '../core/node-protocol';
import type { InferenceReceipt } from '../core/receipts';
import { decodeTensors } from '../core/tensors';

/** One operator's phase 1 run, as the gateway verified it (receipt signer, hashes, terms). */
export interface QuorumRun {
  operatorId: string;
  /** The backend that ran it: its pool id, address and URL. */
  backendId: string;
  backend: Address;
  url: string;
  /** The run's own request id (core/backend-protocol quorumRunRequestId). */
  runRequestId: Hex;
  receipt: InferenceReceipt;
  /** The canonical output encoding the receipt's outputHash covers (kept in memory only, never stored). */
  outputBytes: Uint8Array;
}

/** What the gateway hands a new quorum request after phase 1. */
export interface InferenceQuorumInit {
  /** Every signed field but the output hash, which this object fixes. */
  terms: Omit<InferenceAttestationRequest, 'outputHash'>;
  model: { name: string; version: number };
  /** The registry snapshot (terms.registry at terms.registryBlock), stakes as decimal strings. */
  registry: OperatorRegistry;
  runs: QuorumRun[];
  /** Operators asked in phase 1 whose backends failed (they do not count). */
  failed: { operatorId: string; reason: string }[];
}

/**
 * How a quorum request ended: attested; the operators disagreed beyond the tolerance, so no output
 * held the quorum; or failed though they agreed (`failure.code`: `quorum_not_signed` when too few
 * signed, `quorum_stake_short` when failed backends left operators with too little stake).
 */
export type QuorumStatus = 'attested' | 'disagreed' | 'failed';

/** A quorum request as `GET /v1/inference-quorums/:requestId` shows it: the evidence, whatever the outcome. */
export interface QuorumView {
  requestId: Hex;
  status: QuorumStatus;
  model: { name: string; version: number; sha256: Hex };
  inputHash: Hex;
  chainId: number;
  expiration: number;
  thresholdBps: number;
  tolerance: InferenceAttestationRequest['tolerance'];
  registry: Address;
  registryBlock: number;
  totalStake: string;
  /** The reference output, the operators that agree with it and their stake (null only when no run came back). */
  reference: { operatorId: string; outputHash: Hex; agreeing: string[]; agreeingStake: string } | null;
  /** Every operator asked: its output hash and receipt when it ran, whether it agreed and signed, and why not. */
  runs: {
    operatorId: string;
    stake: string;
    backend: Address | null;
    outputHash: Hex | null;
    agrees: boolean;
    signed: boolean;
    rejection: string | null;
  }[];
  receipts: InferenceReceipt[];
  attestation: InferenceAttestation | null;
  failure: { code: string; message: string } | null;
  createdAt: string;
}

interface Env {
  GATEWAY_SECRET: string;
}

/** How long a quorum request's evidence stays readable after it ended or its attestation expired, whichever is later (s). */
export const QUORUM_EVIDENCE_RETENTION_S = 7 * 24 * 60 * 60;
/** How long phase 2 waits for backends' signatures (ms). */
const SIGN_TIMEOUT_MS = 15_000;

/**
 * One quorum inference request (named by its request id). Phase 1 happened in the Worker (each
 * chosen operator's backend ran the model, its receipt verified); this object fixes the reference
 * output by stake (identical output hashes, or floats within the model's declared tolerance), asks
 * each agreeing operator's backend to BLS-sign the inference digest over it, checks every signature
 * against the operator's key in the request's registry snapshot before it counts, and aggregates
 * them once the signers hold the model's quorum. Whatever the outcome, every receipt and output hash
 * is kept as evidence (the view), until QUORUM_EVIDENCE_RETENTION_S after the request's end.
 *
 * BLS work goes through `blsVerifier()`: @noble/curves here; the Worker exports a subclass with the
 * WebAssembly build (workers/inference/quorum/inference-quorum-object.ts).
 */
export class InferenceQuorum extends DurableObject<Env> {
  /** The BLS implementation this object verifies and aggregates with. */
  protected blsVerifier(): Promise<BlsVerifier> {
    return Promise.resolve(nobleBlsVerifier);
  }

  /** Fixes the reference, runs phase 2 and returns the outcome; a request decided before is refused (409 `quorum_exists`). */
  async decide(init: InferenceQuorumInit): Promise<RpcResult<QuorumView>> {
    return toRpcResult(async () => {
      if (await this.ctx.storage.get('started'))
        throw new ProofgateError('quorum_exists', `quorum request ${init.terms.requestId} was decided already`, 409);
      await this.ctx.storage.put('started', true);
      const view = await this.run(init, await this.blsVerifier());
      await this.ctx.storage.put('view', view);
      const endS = Math.max(Math.floor(Date.now() / 1000), init.terms.expiration) + QUORUM_EVIDENCE_RETENTION_S;
      await this.ctx.storage.setAlarm(endS * 1000);
      return view;
    });
  }

  /** The request's evidence and outcome, or null when no request has this id (or it was erased). */
  async view(): Promise<QuorumView | null> {
    return (await this.ctx.storage.get<QuorumView>('view')) ?? null;
  }

  /** The evidence has been kept long enough: erase it. */
  override async alarm(): Promise<void> {
    await this.ctx.storage.deleteAll();
  }

  private async run(init: InferenceQuorumInit, verifier: BlsVerifier): Promise<QuorumView> {
    const { terms, registry } = init;
    const members = new Map(activeOperators(registry).map((o) => [o.id, o]));
    const stakeOf = (id: string): bigint => parseStake(members.get(id)?.stake ?? 0) ?? 0n;
    const totalStake = registryTotalStake(registry);
    const reference = fixReferenceOutput(
      init.runs.map((r) => ({
        operatorId: r.operatorId,
        stake: stakeOf(r.operatorId),
        outputHash: r.receipt.outputHash,
        outputs: decodeTensors(r.outputBytes),
      })),
      terms.tolerance,
    );
    const rejections = new Map<string, string>(init.failed.map((f) => [f.operatorId, f.reason]));
    const signatures: VerifiedInferenceSignature[] = [];
    let attestation: InferenceAttestation | null = null;
    let failure: QuorumView['failure'] = null;
    let status: QuorumStatus;

    if (!reference || !meetsQuorum(reference.agreeingStake, totalStake, terms.thresholdBps)) {
      const unanimous = reference !== null && reference.agreeing.length === init.runs.length;
      status = unanimous ? 'failed' : 'disagreed';
      failure = {
        code: unanimous ? 'quorum_stake_short' : 'quorum_disagreement',
        message: unanimous
          ? `the operators that ran agree but hold ${reference.agreeingStake} of ${totalStake}, short of ${terms.thresholdBps} bps`
          : `no output was agreed by operators holding ${terms.thresholdBps} bps of stake: the largest agreement held ` +
            `${reference?.agreeingStake ?? 0n} of ${totalStake}`,
      };
    } else {
      const request: InferenceAttestationRequest = { ...terms, outputHash: reference.outputHash };
      const referenceBytes = init.runs.find((r) => r.operatorId === reference.referenceOperator)!.outputBytes;
      const agreeing = init.runs.filter((r) => reference.agreeing.includes(r.operatorId));
      await Promise.all(
        agreeing.map(async (run) => {
          try {
            const signature = await this.collectSignature(run, request, referenceBytes, members.get(run.operatorId)!.blsPublicKey, verifier);
            signatures.push({ operatorId: run.operatorId, signature });
          } catch (err) {
            rejections.set(run.operatorId, err instanceof Error ? err.message : 'failed');
          }
        }),
      );
      const signedStake = signatures.reduce((sum, s) => sum + stakeOf(s.operatorId), 0n);
      if (meetsQuorum(signedStake, totalStake, terms.thresholdBps)) {
        status = 'attested';
        attestation = aggregateInferenceAttestation(request, signatures, registry, verifier);
      } else {
        status = 'failed';
        failure = {
          code: 'quorum_not_signed',
          message: `the operators agreed, but those that signed hold ${signedStake} of ${totalStake}, short of ${terms.thresholdBps} bps`,
        };
      }
    }

    const signers = new Set(signatures.map((s) => s.operatorId));
    const runsById = new Map(init.runs.map((r) => [r.operatorId, r]));
    const asked = [...new Set([...init.runs.map((r) => r.operatorId), ...init.failed.map((f) => f.operatorId)])];
    return {
      requestId: terms.requestId,
      status,
      model: { ...init.model, sha256: terms.modelSha256 },
      inputHash: terms.inputHash,
      chainId: terms.chainId,
      expiration: terms.expiration,
      thresholdBps: terms.thresholdBps,
      tolerance: terms.tolerance,
      registry: terms.registry,
      registryBlock: terms.registryBlock,
      totalStake: totalStake.toString(),
      reference: reference && {
        operatorId: reference.referenceOperator,
        outputHash: reference.outputHash,
        agreeing: reference.agreeing,
        agreeingStake: reference.agreeingStake.toString(),
      },
      runs: asked.map((operatorId) => {
        const run = runsById.get(operatorId);
        const agrees = reference?.agreeing.includes(operatorId) ?? false;
        return {
          operatorId,
          stake: stakeOf(operatorId).toString(),
          backend: run?.backend ?? null,
          outputHash: run?.receipt.outputHash ?? null,
          agrees,
          signed: signers.has(operatorId),
          rejection: rejections.get(operatorId) ?? (run && !agrees ? 'outputs_disagree' : null),
        };
      }),
      receipts: init.runs.map((r) => r.receipt),
      attestation,
      failure,
      createdAt: new Date().toISOString(),
    };
  }

  // Phase 2 for one agreeing operator: its backend signs the digest over the reference (given the
  // reference outputs when its own differ), and the signature is checked against the operator's
  // key in the snapshot before it counts.
  private async collectSignature(
    run: QuorumRun,
    request: InferenceAttestationRequest,
    referenceBytes: Uint8Array,
    operatorKey: Hex,
    verifier: BlsVerifier,
  ): Promise<Hex> {
    const digest = computeInferenceDigest(request);
    const body: QuorumSignRequest = {
      request,
      runRequestId: run.runRequestId,
      ...(run.receipt.outputHash === request.outputHash ? {} : { referenceOutputs: toBase64(referenceBytes) }),
    };
    const bytes = new TextEncoder().encode(JSON.stringify(body));
    const bodySha256 = bytesToHex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)));
    const authKey = await deriveNodeAuthKey(this.env.GATEWAY_SECRET, backendAuthLabel(run.backend));
    const auth = await gatewayRequestHeaders(authKey, {
      method: 'POST',
      path: QUORUM_PATHS.sign,
      requestId: request.requestId,
      subject: request.modelSha256,
      bodySha256,
      timestamp: Date.now(),
    });
    let res: Response;
    try {
      res = await fetch(`${run.url}${QUORUM_PATHS.sign}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body: bytes,
        signal: AbortSignal.timeout(SIGN_TIMEOUT_MS),
      });
    } catch {
      throw new Error('backend unreachable');
    }
    const text = await res.text();
    // Only the backend's error code is kept: its message is an operator's text, which the gateway never echoes.
    if (!res.ok) throw new Error(`HTTP ${res.status}${errorCodeOf(text)}`);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error('answer is not JSON');
    }
    const reply = quorumSignReplySchema.safeParse(json);
    if (!reply.success) throw new Error('malformed reply');
    if (reply.data.operatorId !== run.operatorId) throw new Error('signed for another operator');
    if (reply.data.digest !== digest) throw new Error('digest_mismatch');
    if (!verifier.verifyAggregate([operatorKey], hexToBytes(digest), hexToBytes(reply.data.signature))) throw new Error('invalid_signature');
    return reply.data.signature;
  }
}

function errorCodeOf(text: string): string {
  try {
    const code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' && /^[a-z0-9_]{1,64}$/.test(code) ? ` ${code}` : '';
  } catch {
    return '';
  }
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** A quorum request's stub (one object per request id). */
export function inferenceQuorum(ns: DurableObjectNamespace<InferenceQuorum>, requestId: string): DurableObjectStub<InferenceQuorum> {
  return ns.get(ns.idFromName(requestId.toLowerCase()));
}
