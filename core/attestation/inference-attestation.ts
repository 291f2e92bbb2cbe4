/**
 * Inference attestations: a stake quorum of operators' aggregate BLS signature over one model
 * output, as the same library, endpoint and contract that judge intent attestations judge them.
 * The digest binds the request, the model, the input and the reference output, and also what the
 * agreement meant (the tolerance the model's publisher declared), the quorum asked for and the
 * registry snapshot it was judged under, so none of these can be swapped after the operators signed.
 */
import { encodeAbiParameters, isAddress, keccak256, stringToBytes, type Address, type Hex } from 'viem';
import { z } from 'zod';
import { ProofgateError } from '../errors';
import { hexBytesPattern } from '../hex';
import { nobleBlsVerifier, type BlsVerifier } from './bls-verifier';
import type { OperatorRegistry } from './operator-registry';
import { aggregateSignerSet, type OperatorSignature } from './signer-set';
import { checkQuorumSignature, type QuorumRejection } from './quorum-signature';

/** Leads every inference attestation digest: names the kind and its version. */
export const INFERENCE_ATTESTATION_TYPEHASH: Hex = keccak256(stringToBytes('Proofgate.InferenceAttestation.v1'));

/**
 * How far operators' outputs may differ from the reference and still agree, per float element:
 * |x − reference| ≤ absolute + relative × |reference| (numpy's isclose). Integer and bool outputs
 * always agree only when equal; zero for both means every output byte must be equal.
 */
export interface OutputTolerance {
  absolute: number;
  relative: number;
}

/** Exact agreement: identical output bytes. */
export const EXACT_AGREEMENT: OutputTolerance = { absolute: 0, relative: 0 };

/** What operators sign for one quorum inference, in digest order (all but the digest itself). */
export interface InferenceAttestationRequest {
  requestId: Hex;
  modelSha256: Hex;
  inputHash: Hex;
  /** sha256 of the reference output's canonical tensor encoding. */
  outputHash: Hex;
  chainId: number;
  /** Unix seconds; usable while now <= expiration. */
  expiration: number;
  tolerance: OutputTolerance;
  /** The model's quorum in basis points of the snapshot's total stake. */
  thresholdBps: number;
  /** The OperatorRegistry contract and the block whose keys and stakes judge the attestation. */
  registry: Address;
  registryBlock: number;
}

/**
 * A tolerance as the digest and the contract carry it: the IEEE-754 binary64 bits of a
 * non-negative number (−0 as +0). For non-negative numbers the bits order like the values, so a
 * contract compares them as unsigned integers (`absoluteTolerance <= maxBits`).
 */
export function toleranceBits(value: number): bigint {
  if (!Number.isFinite(value) || value < 0) throw new ProofgateError('invalid_tolerance', 'a tolerance is a finite non-negative number', 400);
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value === 0 ? 0 : value);
  return view.getBigUint64(0);
}

/**
 * keccak256(abi.encode(bytes32 INFERENCE_ATTESTATION_TYPEHASH, bytes32 requestId, bytes32 modelSha256,
 * bytes32 inputHash, bytes32 outputHash, uint256 chainId, uint64 expiration, uint64 absoluteTolerance,
 * uint64 relativeTolerance, uint16 thresholdBps, address registry, uint64 registryBlock)), the
 * tolerances as toleranceBits; exactly AttestationValidator.inferenceDigestOf.
 */
export function computeInferenceDigest(r: InferenceAttestationRequest): Hex {
  return keccak256(
    encodeAbiParameters(
      [
        { type: 'bytes32' },
        { type: 'bytes32' },
        { type: 'bytes32' },
        { type: 'bytes32' },
        { type: 'bytes32' },
        { type: 'uint256' },
        { type: 'uint64' },
        { type: 'uint64' },
        { type: 'uint64' },
        { type: 'uint16' },
        { type: 'address' },
        { type: 'uint64' },
      ],
      [
        INFERENCE_ATTESTATION_TYPEHASH,
        r.requestId,
        r.modelSha256,
        r.inputHash,
        r.outputHash,
        BigInt(r.chainId),
        BigInt(r.expiration),
        toleranceBits(r.tolerance.absolute),
        toleranceBits(r.tolerance.relative),
        r.thresholdBps,
        r.registry,
        BigInt(r.registryBlock),
      ],
    ),
  );
}

const hexOfBytes = (bytes: number) => {
  const pattern = hexBytesPattern(bytes);
  return z.custom<Hex>((v) => typeof v === 'string' && pattern.test(v), `expected ${bytes}-byte hex`);
};
const bytes32 = hexOfBytes(32);
const uint256Decimal = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,77})$/, 'expected a decimal integer')
  .refine((v) => BigInt(v) < 2n ** 256n, 'exceeds uint256');
const operatorId = z.string().min(1).max(256);
const toleranceValue = z.number().nonnegative().finite();

/** Schema of an output tolerance in JSON. */
export const outputToleranceSchema = z.object({ absolute: toleranceValue, relative: toleranceValue }).strict();

/** Schema of an inference attestation in JSON; `.strict()` so unknown (unsigned) fields are refused. */
export const inferenceAttestationSchema = z
  .object({
    /** Tells inference attestations from intent attestations (not signed: every other field is). */
    kind: z.literal('inference'),
    requestId: bytes32,
    modelSha256: bytes32,
    inputHash: bytes32,
    outputHash: bytes32,
    chainId: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    expiration: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    tolerance: outputToleranceSchema,
    digest: bytes32,
    /** 96-byte compressed G2 aggregate of the signers' signatures over `digest`. */
    aggregateSignature: hexOfBytes(96),
    signers: z.array(operatorId),
    nonSigners: z.array(operatorId),
    signedStake: uint256Decimal,
    totalStake: uint256Decimal,
    thresholdBps: z.number().int().min(1).max(10_000),
    registry: z.custom<Address>((v) => typeof v === 'string' && isAddress(v), 'expected an address'),
    registryBlock: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  })
  .strict();

/** A model output attested by a stake quorum of operators. */
export type InferenceAttestation = z.infer<typeof inferenceAttestationSchema>;

/** True when a JSON value claims to be an inference attestation (what verifiers dispatch on). */
export function isInferenceAttestationClaim(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'inference';
}

/** One operator's signature over the inference digest, verified already. */
export type VerifiedInferenceSignature = OperatorSignature;

/**
 * Aggregates signatures that were each verified over the request's digest (what the quorum's
 * Durable Object holds): signers and non-signers in registry order, stakes from the snapshot. Quorum
 * is not enforced here; the caller checks `meetsQuorum` first.
 */
export function aggregateInferenceAttestation(
  request: InferenceAttestationRequest,
  signatures: readonly VerifiedInferenceSignature[],
  registry: OperatorRegistry,
  verifier: BlsVerifier = nobleBlsVerifier,
): InferenceAttestation {
  const signerSet = aggregateSignerSet(request, signatures, registry, verifier);
  return {
    kind: 'inference',
    requestId: request.requestId,
    modelSha256: request.modelSha256,
    inputHash: request.inputHash,
    outputHash: request.outputHash,
    chainId: request.chainId,
    expiration: request.expiration,
    tolerance: { absolute: request.tolerance.absolute, relative: request.tolerance.relative },
    digest: computeInferenceDigest(request),
    ...signerSet,
    thresholdBps: request.thresholdBps,
    registry: request.registry,
    registryBlock: request.registryBlock,
  };
}

/** Stable machine-readable reasons why an inference attestation was refused. */
export type InferenceAttestationRejection =
  | 'malformed_attestation'
  | 'digest_mismatch'
  | 'expired'
  | 'chain_id_mismatch'
  | 'model_mismatch'
  | 'input_hash_mismatch'
  | 'output_hash_mismatch'
  | 'threshold_too_low'
  | 'tolerance_too_loose'
  | 'already_consumed'
  | QuorumRejection;

/** What the verifier itself knows and requires; the attestation's own claims are checked against these. */
export interface VerifyInferenceAttestationOptions {
  /** Current time in unix seconds. */
  now: bigint;
  /**
   * The quorum the relying party requires (basis points of the snapshot's total stake): the
   * attestation must have been signed with at least it, and its signers must hold the quorum it was signed with.
   */
  requiredThresholdBps: number;
  expectedChainId?: number;
  expectedModelSha256?: Hex;
  expectedInputHash?: Hex;
  /** The output the relying party holds (sha256 of its canonical tensor encoding). */
  expectedOutputHash?: Hex;
  /** The loosest agreement the relying party accepts (default: any the attestation states). */
  maxTolerance?: OutputTolerance;
  /** Single-use check: true when this digest was already consumed. */
  consumed?: (digest: Hex) => boolean;
  /** BLS implementation (default: @noble/curves). */
  verifier?: BlsVerifier;
}

/** Verdict of verifyInferenceAttestation; `reasons` is empty exactly when `valid` is true. */
export interface InferenceAttestationVerification {
  valid: boolean;
  reasons: InferenceAttestationRejection[];
}

/**
 * Recomputes the digest from the signed fields, checks expiry, chain, model, input and output, the
 * quorum and tolerance against what the relying party requires, and the signers, stakes and
 * aggregate BLS signature against `registry`, which must be the snapshot the attestation names.
 */
export function verifyInferenceAttestation(
  attestation: unknown,
  registry: OperatorRegistry,
  options: VerifyInferenceAttestationOptions,
): InferenceAttestationVerification {
  const parsed = inferenceAttestationSchema.safeParse(attestation);
  if (!parsed.success) return { valid: false, reasons: ['malformed_attestation'] };
  const a = parsed.data;
  const reasons = new Set<InferenceAttestationRejection>();
  const digest = computeInferenceDigest(a);
  if (digest !== a.digest.toLowerCase()) reasons.add('digest_mismatch');
  if (options.now > BigInt(a.expiration)) reasons.add('expired');
  if (options.expectedChainId !== undefined && a.chainId !== options.expectedChainId) reasons.add('chain_id_mismatch');
  if (!sameHex(options.expectedModelSha256, a.modelSha256)) reasons.add('model_mismatch');
  if (!sameHex(options.expectedInputHash, a.inputHash)) reasons.add('input_hash_mismatch');
  if (!sameHex(options.expectedOutputHash, a.outputHash)) reasons.add('output_hash_mismatch');
  if (a.thresholdBps < options.requiredThresholdBps) reasons.add('threshold_too_low');
  const max = options.maxTolerance;
  if (max && (a.tolerance.absolute > max.absolute || a.tolerance.relative > max.relative)) reasons.add('tolerance_too_loose');
  for (const reason of checkQuorumSignature(a, digest, registry, a.thresholdBps, options.verifier)) reasons.add(reason);
  if (options.consumed?.(digest) === true) reasons.add('already_consumed');
  return { valid: reasons.size === 0, reasons: [...reasons] };
}

function sameHex(expected: string | undefined, actual: string): boolean {
  return expected === undefined || expected.toLowerCase() === actual.toLowerCase();
}
