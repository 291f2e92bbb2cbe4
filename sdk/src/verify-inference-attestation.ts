import { createPublicClient, http, type Hex } from 'viem';
import {
  inferenceAttestationSchema,
  readRegistrySnapshot,
  verifyInferenceAttestation as verifyInferenceAttestationCore,
  type InferenceAttestationVerification,
  type OperatorRegistry,
  type OutputTolerance,
  type RegistryChainClient,
} from '../../core/attestation';
import { gatewayJson, type GatewayOptions } from './gateway';

/** What to verify an inference attestation against, and what the relying party requires of it. */
export interface VerifyInferenceAttestationOptions {
  /** A registry snapshot you trust (the one the attestation names: same contract and block). */
  registry?: OperatorRegistry;
  /** Where to read the snapshot the attestation names, trusting only the chain: an RPC URL or a viem PublicClient. */
  chain?: string | RegistryChainClient;
  /** The gateway, which checks the attestation itself when neither `registry` nor `chain` is given. */
  gateway?: string;
  fetch?: typeof fetch;
  /** The quorum you require, in basis points of stake (offline: required; at the gateway: default the model's). */
  requiredThresholdBps?: number;
  /** The current time in unix seconds (default: now). */
  now?: number | bigint;
  expectedChainId?: number;
  expectedModelSha256?: Hex;
  expectedInputHash?: Hex;
  /** sha256 of the output you hold (its canonical tensor encoding: `hashTensors`). */
  expectedOutputHash?: Hex;
  /** The loosest agreement you accept. */
  maxTolerance?: OutputTolerance;
}

/** Verdict of verifyInferenceAttestation, and who checked it: this process (`offline`) or the gateway. */
export type InferenceAttestationVerdict = { valid: boolean; reasons: string[]; checkedBy: 'offline' | 'gateway' };

/**
 * Verifies an inference attestation (a quorum call's `attestation`): offline against a registry
 * snapshot (given, or read from chain at the block the attestation names) by recomputing the digest
 * and checking expiry, chain, model, input, output, quorum, tolerance, signers, stakes and the
 * aggregate BLS signature; with neither a registry nor a chain, at the gateway (`POST /v1/attestations/verify`).
 */
export async function verifyInferenceAttestation(
  attestation: unknown,
  options: VerifyInferenceAttestationOptions,
): Promise<InferenceAttestationVerdict> {
  if (!options.registry && !options.chain) {
    if (!options.gateway) throw new TypeError('verifyInferenceAttestation needs a registry, a chain to read it from, or a gateway');
    const g: GatewayOptions = { gateway: options.gateway, ...(options.fetch ? { fetch: options.fetch } : {}) };
    const verdict = await gatewayJson<{ valid: boolean; reasons: string[] }>(g, {
      path: '/v1/attestations/verify',
      method: 'POST',
      json: {
        attestation,
        ...(options.expectedChainId !== undefined ? { chainId: options.expectedChainId } : {}),
        ...(options.requiredThresholdBps !== undefined ? { thresholdBps: options.requiredThresholdBps } : {}),
        ...(options.expectedModelSha256 ? { modelSha256: options.expectedModelSha256 } : {}),
        ...(options.expectedInputHash ? { inputHash: options.expectedInputHash } : {}),
        ...(options.expectedOutputHash ? { outputHash: options.expectedOutputHash } : {}),
        ...(options.maxTolerance ? { maxTolerance: options.maxTolerance } : {}),
      },
    });
    return { ...verdict, checkedBy: 'gateway' };
  }
  if (options.requiredThresholdBps === undefined) throw new TypeError('verifying offline needs the quorum you require (requiredThresholdBps)');
  const parsed = inferenceAttestationSchema.safeParse(attestation);
  if (!parsed.success) return { valid: false, reasons: ['malformed_attestation'], checkedBy: 'offline' };
  const a = parsed.data;
  let registry = options.registry;
  if (!registry) {
    const client = typeof options.chain === 'string' ? createPublicClient({ transport: http(options.chain) }) : options.chain!;
    registry = await readRegistrySnapshot(client, a.registry, a.registryBlock);
  }
  const verdict: InferenceAttestationVerification = verifyInferenceAttestationCore(a, registry, {
    now: BigInt(options.now ?? Math.floor(Date.now() / 1000)),
    requiredThresholdBps: options.requiredThresholdBps,
    ...(options.expectedChainId !== undefined ? { expectedChainId: options.expectedChainId } : {}),
    ...(options.expectedModelSha256 ? { expectedModelSha256: options.expectedModelSha256 } : {}),
    ...(options.expectedInputHash ? { expectedInputHash: options.expectedInputHash } : {}),
    ...(options.expectedOutputHash ? { expectedOutputHash: options.expectedOutputHash } : {}),
    ...(options.maxTolerance ? { maxTolerance: options.maxTolerance } : {}),
  });
  return { ...verdict, checkedBy: 'offline' };
}
