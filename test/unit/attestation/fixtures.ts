/** Deterministic operators and a signed attestation built with real BLS keys, shared by tests. */
import { bytesToHex, hexToBytes, type Address, type Hex } from 'viem';
import {
  admitOperator,
  assembleAttestation,
  computeAttestationDigest,
  computeIntentHash,
  computePolicyDataHash,
  createProofOfPossession,
  emptyRegistry,
  generateKeyPair,
  signMessage,
  type Attestation,
  type AttestationRequest,
  type BlsKeyPair,
  type BlsVerifier,
  type OperatorRegistry,
} from '../../../core/attestation';

export type TestOperator = BlsKeyPair & { id: string; stake: bigint };

/** Key material is a fixed 32-byte pattern per operator so failures are reproducible. */
export function makeOperator(id: string, seedByte: number, stake: bigint): TestOperator {
  return { id, stake, ...generateKeyPair(new Uint8Array(32).fill(seedByte)) };
}

export const OPERATORS: readonly TestOperator[] = [
  makeOperator('op-1', 1, 100n),
  makeOperator('op-2', 2, 200n),
  makeOperator('op-3', 3, 300n),
  makeOperator('op-4', 4, 400n),
];

/** The OperatorRegistry contract and block the fixture attestations name. */
export const REGISTRY: Address = '0x00000000000000000000000000000000000000e9';
export const REGISTRY_BLOCK = 42;
/** The fixture policy's quorum (two thirds of stake, rounded up). */
export const THRESHOLD_BPS = 6667;

/** Registry snapshot with every fixture operator admitted through its proof of possession. */
export function makeRegistry(operators: readonly TestOperator[] = OPERATORS, blockNumber = REGISTRY_BLOCK): OperatorRegistry {
  return operators.reduce<OperatorRegistry>(
    (registry, op) =>
      admitOperator(registry, {
        id: op.id,
        blsPublicKey: bytesToHex(op.publicKey),
        proofOfPossession: bytesToHex(createProofOfPossession(op.secretKey)),
        stake: op.stake,
      }),
    emptyRegistry(REGISTRY, blockNumber),
  );
}

export const NOW = 1_800_000_000n;
export const POLICY_ID: Hex = `0x${'ab'.repeat(32)}`;
export const POLICY_CLIENT: Address = '0x00000000000000000000000000000000000000c1';

export function makeRequest(overrides: Partial<AttestationRequest> = {}): AttestationRequest {
  return {
    taskId: `0x${'01'.repeat(32)}`,
    policyId: POLICY_ID,
    policyClient: POLICY_CLIENT,
    chainId: 31337,
    intent: {
      from: '0x1111111111111111111111111111111111111111',
      to: '0x2222222222222222222222222222222222222222',
      value: '1000000000000000000',
      data: '0xa9059cbb',
      chainId: 31337,
    },
    allowed: true,
    reasons: [],
    policyDataHash: computePolicyDataHash({ sanctioned: ['0x3333333333333333333333333333333333333333'], limit: 5 }),
    expiration: Number(NOW) + 600,
    thresholdBps: THRESHOLD_BPS,
    registry: REGISTRY,
    registryBlock: REGISTRY_BLOCK,
    ...overrides,
  };
}

/** Each signer signs the digest of `request` with its own key; the result is aggregated. */
export function signAttestation(
  request: AttestationRequest,
  signers: readonly TestOperator[],
  registry: OperatorRegistry,
  verifier?: BlsVerifier,
): Attestation {
  const intentHash = computeIntentHash(request.intent);
  const digest = hexToBytes(computeAttestationDigest({ ...request, intentHash }));
  const signatures = signers.map((op) => ({ operatorId: op.id, signature: bytesToHex(signMessage(op.secretKey, digest)) }));
  return assembleAttestation(request, signatures, registry, verifier);
}

/** Re-derives intentHash and digest after a test edits fields, so only the signature can object. */
export function rehash(attestation: Attestation): Attestation {
  const intentHash = computeIntentHash(attestation.intent);
  return { ...attestation, intentHash, digest: computeAttestationDigest({ ...attestation, intentHash }) };
}
