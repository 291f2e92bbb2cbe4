/** Operators, a registry snapshot and inference attestations signed with real BLS keys, shared by the quorum tests. */
import { bytesToHex, hexToBytes, type Hex } from 'viem';
import {
  aggregateInferenceAttestation,
  computeInferenceDigest,
  signMessage,
  type InferenceAttestation,
  type InferenceAttestationRequest,
  type OperatorRegistry,
} from '../../../core/attestation';
import { encodeTensors, type Tensor, type TensorMap } from '../../../core/tensors';
import { NOW, REGISTRY, REGISTRY_BLOCK, makeOperator, makeRegistry, type TestOperator } from '../attestation/fixtures';

/** Three operators with stakes 50/30/20, as the local stack runs them. */
export const QUORUM_OPERATORS: readonly TestOperator[] = [
  makeOperator('operator-1', 11, 50n),
  makeOperator('operator-2', 12, 30n),
  makeOperator('operator-3', 13, 20n),
];

/** Their registry snapshot. */
export const QUORUM_REGISTRY: OperatorRegistry = makeRegistry(QUORUM_OPERATORS);

/** A float32 tensor of the given values. */
export function float32(values: number[], dims = [values.length]): Tensor {
  const data = new Uint8Array(4 * values.length);
  const view = new DataView(data.buffer);
  for (const [i, v] of values.entries()) view.setFloat32(4 * i, v, true);
  return { type: 'float32', dims, data };
}

/** An int32 tensor of the given values. */
export function int32(values: number[]): Tensor {
  const data = new Uint8Array(4 * values.length);
  const view = new DataView(data.buffer);
  for (const [i, v] of values.entries()) view.setInt32(4 * i, v, true);
  return { type: 'int32', dims: [values.length], data };
}

/** sha256 of the canonical encoding (what receipts and attestations name). */
export async function outputHash(outputs: TensorMap): Promise<Hex> {
  return bytesToHex(new Uint8Array(await crypto.subtle.digest('SHA-256', encodeTensors(outputs))));
}

/** A request to sign, over `overrides`. */
export function inferenceRequest(overrides: Partial<InferenceAttestationRequest> = {}): InferenceAttestationRequest {
  return {
    requestId: `0x${'a1'.repeat(32)}`,
    modelSha256: `0x${'b2'.repeat(32)}`,
    inputHash: `0x${'c3'.repeat(32)}`,
    outputHash: `0x${'d4'.repeat(32)}`,
    chainId: 31337,
    expiration: Number(NOW) + 600,
    tolerance: { absolute: 1e-5, relative: 1e-3 },
    thresholdBps: 6700,
    registry: REGISTRY,
    registryBlock: REGISTRY_BLOCK,
    ...overrides,
  };
}

/** The attestation the given operators sign for `request`. */
export function signInference(
  request: InferenceAttestationRequest,
  signers: readonly TestOperator[] = QUORUM_OPERATORS,
  registry: OperatorRegistry = QUORUM_REGISTRY,
): InferenceAttestation {
  const digest = hexToBytes(computeInferenceDigest(request));
  const signatures = signers.map((op) => ({ operatorId: op.id, signature: bytesToHex(signMessage(op.secretKey, digest)) }));
  return aggregateInferenceAttestation(request, signatures, registry);
}
