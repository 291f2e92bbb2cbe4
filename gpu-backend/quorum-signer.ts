/**
 * Phase 2 of a quorum inference on a backend: the gateway names the reference output it fixed, and
 * the backend's operator signs the inference digest over it only if this backend ran that very
 * request (model, input) and its own output is the reference or agrees with it within the tolerance
 * stated (which the digest binds, so the relying party sees what agreement meant). Outputs of recent
 * runs are kept in memory for a short while for this.
 */
import { createHash } from 'node:crypto';
import { bytesToHex, hexToBytes, type Address, type Hex } from 'viem';
import { computeInferenceDigest, outputsAgree, signMessage } from '../core/attestation';
import { INFERENCE_ATTESTATION_MAX_VALIDITY_S, quorumRunRequestId, quorumSignRequestSchema, type QuorumSignReply } from '../core/backend-protocol';
import { InvalidRequestError, ProofgateError } from '../core/errors';
import type { AuthenticatedRequest } from '../core/node-protocol';
import { decodeTensors } from '../core/tensors';
import { parseWithSchema } from '../core/validation';
import type { BackendOperator } from './operator-attachment';

/** A run's output as phase 2 needs it. */
interface RecentRun {
  modelSha256: Hex;
  inputHash: Hex;
  outputHash: Hex;
  outputBytes: Uint8Array;
  at: number;
}

/** How long a run's output is kept for phase 2 (the gateway asks within seconds). */
export const RECENT_RUN_TTL_MS = 60_000;
/** Most output bytes kept in all; the oldest runs go first. */
const MAX_KEPT_BYTES = 64 * 1024 * 1024;
/** Largest single output kept (a larger one is not offered to quorums). */
const MAX_RUN_BYTES = 8 * 1024 * 1024;
/** How far (s) past an attestation's longest validity its expiration may lie, for clock skew. */
const EXPIRATION_SKEW_S = 300;

/** A phase 2 request this backend will not sign; `code` says why. */
export class QuorumSignRefusedError extends ProofgateError {
  constructor(code: string, message: string, status = 422) {
    super(code, message, status);
  }
}

/** Keeps recent runs' outputs and signs inference digests for the backend's operator. */
export class QuorumSigner {
  private readonly runs = new Map<Hex, RecentRun>();
  private keptBytes = 0;

  constructor(
    private readonly operator: BackendOperator,
    private readonly backend: Address,
  ) {}

  /** The operator this backend signs for. */
  get operatorId(): string {
    return this.operator.id;
  }

  /** Keeps a run's output for phase 2 (called for every run: the backend cannot tell quorum runs apart). */
  remember(requestId: Hex, run: Omit<RecentRun, 'at'>, nowMs = Date.now()): void {
    this.expire(nowMs);
    if (run.outputBytes.byteLength > MAX_RUN_BYTES) return;
    this.runs.set(requestId, { ...run, at: nowMs });
    this.keptBytes += run.outputBytes.byteLength;
    while (this.keptBytes > MAX_KEPT_BYTES) this.forget(this.runs.keys().next().value!);
  }

  /**
   * Signs the digest a gateway-authenticated phase 2 request states, after checking it is about a run
   * of this backend for the same quorum request, model and input, that its output agrees with the
   * reference, and that the expiration is sane. Throws QuorumSignRefusedError otherwise.
   */
  sign(authenticated: AuthenticatedRequest, nowMs = Date.now()): QuorumSignReply {
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(authenticated.body));
    } catch {
      throw new InvalidRequestError('invalid_json', 'body is not JSON');
    }
    const { request, runRequestId, referenceOutputs } = parseWithSchema(quorumSignRequestSchema, json);
    if (request.requestId !== authenticated.requestId || request.modelSha256 !== authenticated.subject) {
      throw new InvalidRequestError('invalid_request', 'the body is not about the request the gateway signed');
    }
    if (runRequestId !== quorumRunRequestId(request.requestId, this.backend)) {
      throw new QuorumSignRefusedError('not_this_run', 'the run named is not this backend run of the quorum request');
    }
    this.expire(nowMs);
    const run = this.runs.get(runRequestId);
    if (!run) throw new QuorumSignRefusedError('run_unknown', 'this backend has no recent run with that id', 410);
    if (run.modelSha256 !== request.modelSha256 || run.inputHash !== request.inputHash) {
      throw new QuorumSignRefusedError('run_mismatch', 'the run had another model or input');
    }
    const nowS = Math.floor(nowMs / 1000);
    if (request.expiration <= nowS || request.expiration > nowS + INFERENCE_ATTESTATION_MAX_VALIDITY_S + EXPIRATION_SKEW_S) {
      throw new QuorumSignRefusedError(
        'invalid_expiration',
        `an inference attestation may stay usable for up to ${INFERENCE_ATTESTATION_MAX_VALIDITY_S}s`,
      );
    }
    if (request.outputHash !== run.outputHash && !this.agrees(run, request.outputHash, referenceOutputs, request.tolerance)) {
      throw new QuorumSignRefusedError('outputs_disagree', "this backend's output does not agree with the reference within the tolerance", 409);
    }
    const digest = computeInferenceDigest(request);
    return { operatorId: this.operator.id, digest, signature: bytesToHex(signMessage(this.operator.secretKey, hexToBytes(digest))) };
  }

  private agrees(run: RecentRun, outputHash: Hex, referenceOutputs: string | undefined, tolerance: { absolute: number; relative: number }): boolean {
    if (referenceOutputs === undefined) return false;
    const bytes = new Uint8Array(Buffer.from(referenceOutputs, 'base64'));
    if (`0x${createHash('sha256').update(bytes).digest('hex')}` !== outputHash) {
      throw new QuorumSignRefusedError('reference_mismatch', 'the reference outputs do not hash to the output hash');
    }
    try {
      return outputsAgree(decodeTensors(bytes), decodeTensors(run.outputBytes), tolerance);
    } catch {
      throw new QuorumSignRefusedError('reference_mismatch', 'the reference outputs do not decode');
    }
  }

  private expire(nowMs: number): void {
    for (const [id, run] of this.runs) {
      if (run.at >= nowMs - RECENT_RUN_TTL_MS) break;
      this.forget(id);
    }
  }

  private forget(id: Hex): void {
    const run = this.runs.get(id);
    if (!run) return;
    this.keptBytes -= run.outputBytes.byteLength;
    this.runs.delete(id);
  }
}
