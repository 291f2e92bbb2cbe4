/**
 * Inference attestations on chain from Node: the struct AttestationValidator.verifyInference and
 * consumeInference take, and the example ModelOutputConsumer that acts on an attested model output.
 */
import { join } from 'node:path';
import { hexToBytes, type Address, type Hex } from 'viem';
import { toEip2537G2, toleranceBits, type InferenceAttestation, type OutputTolerance } from '../core/attestation';
import { deployContract } from './deploy';
import { operatorIdToBytes32 } from './operator-registry';
import { contractsDir } from './repo-paths';
import { compileContract, type CompiledContract } from './solc';

/** The InferenceAttestationData struct as viem encodes it. */
export type InferenceAttestationCallData = {
  requestId: Hex;
  modelSha256: Hex;
  inputHash: Hex;
  outputHash: Hex;
  chainId: bigint;
  expiration: bigint;
  absoluteTolerance: bigint;
  relativeTolerance: bigint;
  thresholdBps: number;
  registryBlock: bigint;
  signerIds: Hex[];
  signature: Hex;
};

/** Converts an inference attestation to the contract's struct: tolerances as binary64 bits, ascending signer ids, uncompressed signature. */
export function toInferenceCallData(a: InferenceAttestation): InferenceAttestationCallData {
  return {
    requestId: a.requestId,
    modelSha256: a.modelSha256,
    inputHash: a.inputHash,
    outputHash: a.outputHash,
    chainId: BigInt(a.chainId),
    expiration: BigInt(a.expiration),
    absoluteTolerance: toleranceBits(a.tolerance.absolute),
    relativeTolerance: toleranceBits(a.tolerance.relative),
    thresholdBps: a.thresholdBps,
    registryBlock: BigInt(a.registryBlock),
    signerIds: a.signers.map(operatorIdToBytes32).sort((x, y) => (BigInt(x) < BigInt(y) ? -1 : 1)),
    signature: toEip2537G2(hexToBytes(a.aggregateSignature)),
  };
}

/** Compiles the example ModelOutputConsumer (cached). */
export function modelOutputConsumerArtifact(): CompiledContract {
  return compileContract(join(contractsDir, 'ModelOutputConsumer.sol'), 'ModelOutputConsumer');
}

/**
 * Deploys a ModelOutputConsumer bound to `validator`, taking outputs of the model `modelSha256` only
 * under at least `requiredThresholdBps` of stake and within `maxTolerance`.
 */
export async function deployModelOutputConsumer(
  rpcUrl: string,
  deployerKey: Hex,
  validator: Address,
  model: { sha256: Hex; requiredThresholdBps: number; maxTolerance: OutputTolerance },
): Promise<Address> {
  return deployContract(rpcUrl, deployerKey, modelOutputConsumerArtifact(), [
    validator,
    model.sha256,
    model.requiredThresholdBps,
    toleranceBits(model.maxTolerance.absolute),
    toleranceBits(model.maxTolerance.relative),
  ]);
}
