import { createPublicClient, http, type Address, type Hex } from 'viem';
import {
  attestationSchema,
  readRegistrySnapshot,
  verifyAttestation as verifyAttestationCore,
  type AttestationVerification,
  type OperatorRegistry,
  type RegistryChainClient,
} from '../../core/attestation';
import { verifiedPolicyContent } from '../../core/operator-protocol/policy-content';
import { checkAttestationAtGateway, getPolicy } from './api';
import type { GatewayOptions } from './gateway';

/** What to verify an attestation against. */
export interface VerifyAttestationOptions {
  /** A registry snapshot you trust (the one the attestation names: same contract and block). */
  registry?: OperatorRegistry;
  /**
   * Where to read the snapshot the attestation names, trusting only the chain: an RPC URL or a viem
   * PublicClient of the registry's chain. The OperatorRegistry contract admits keys only with a proof of possession.
   */
  chain?: string | RegistryChainClient;
  /**
   * The gateway: it serves the policy (whose threshold counts; its content must hash to the policy id),
   * and checks the attestation itself when neither `registry` nor `chain` is given.
   */
  gateway?: string;
  fetch?: typeof fetch;
  /** The quorum of the attestation's policy in basis points (default: read from the gateway's copy of the policy, hash-checked). */
  policyThresholdBps?: number;
  /** The current time in unix seconds (default: now). */
  now?: number | bigint;
  expectedChainId?: number;
  expectedPolicyId?: Hex;
  expectedPolicyClient?: Address;
  expectedPolicyDataHash?: Hex;
  /** Refuse deny verdicts (default true). */
  requireAllowed?: boolean;
}

/** Verdict of verifyAttestation, and who checked it: this process (`offline`) or the gateway. */
export type AttestationVerdict = AttestationVerification & { checkedBy: 'offline' | 'gateway' };

/**
 * Verifies a policy attestation: offline against a registry snapshot (given, or read from chain at
 * the block the attestation names) and its policy's quorum (given, or read from the gateway's copy
 * of the policy, whose content must hash to the policy id: a gateway cannot lower it), by
 * recomputing the intent hash and digest and checking expiry, chain, policy, threshold, signer set,
 * stakes and the aggregate BLS signature. With neither a registry nor a chain it asks the gateway
 * (`POST /v1/attestations/verify`), which also knows whether the attestation was consumed. Offline
 * checks never consult the single-use ledger. Throws when the registry or the policy cannot be read
 * (`registry_unavailable`, `policy_content_mismatch`).
 */
export async function verifyAttestation(attestation: unknown, options: VerifyAttestationOptions): Promise<AttestationVerdict> {
  const g: GatewayOptions | undefined = options.gateway
    ? { gateway: options.gateway, ...(options.fetch ? { fetch: options.fetch } : {}) }
    : undefined;
  const expectations = {
    ...(options.expectedChainId !== undefined ? { expectedChainId: options.expectedChainId } : {}),
    ...(options.expectedPolicyId ? { expectedPolicyId: options.expectedPolicyId } : {}),
    ...(options.expectedPolicyClient ? { expectedPolicyClient: options.expectedPolicyClient } : {}),
    ...(options.expectedPolicyDataHash ? { expectedPolicyDataHash: options.expectedPolicyDataHash } : {}),
    ...(options.requireAllowed !== undefined ? { requireAllowed: options.requireAllowed } : {}),
  };
  if (!options.registry && !options.chain) {
    if (!g) throw new TypeError('verifyAttestation needs a registry, a chain to read it from, or a gateway');
    const verdict = await checkAttestationAtGateway(g, attestation, {
      ...(options.expectedChainId !== undefined ? { chainId: options.expectedChainId } : {}),
      ...(options.expectedPolicyId ? { policyId: options.expectedPolicyId } : {}),
      ...(options.expectedPolicyClient ? { policyClient: options.expectedPolicyClient } : {}),
      ...(options.requireAllowed !== undefined ? { requireAllowed: options.requireAllowed } : {}),
    });
    return { valid: verdict.valid, reasons: verdict.reasons as AttestationVerification['reasons'], checkedBy: 'gateway' };
  }
  const parsed = attestationSchema.safeParse(attestation);
  if (!parsed.success) return { valid: false, reasons: ['malformed_attestation'], checkedBy: 'offline' };
  const a = parsed.data;
  let registry = options.registry;
  if (!registry) {
    const client = typeof options.chain === 'string' ? createPublicClient({ transport: http(options.chain) }) : options.chain!;
    registry = await readRegistrySnapshot(client, a.registry, a.registryBlock);
  }
  let policyThresholdBps = options.policyThresholdBps;
  if (policyThresholdBps === undefined) {
    if (!g) throw new TypeError("verifyAttestation needs the policy's threshold (policyThresholdBps) or a gateway to read the policy from");
    policyThresholdBps = (await verifiedPolicyContent(a.policyId, await getPolicy(g, a.policyId))).thresholdBps;
  }
  const verdict = verifyAttestationCore(a, registry, {
    now: BigInt(options.now ?? Math.floor(Date.now() / 1000)),
    policyThresholdBps,
    ...expectations,
  });
  return { ...verdict, checkedBy: 'offline' };
}
