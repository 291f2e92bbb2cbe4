import { join } from 'node:path';
import { hexToBytes, type Abi, type Address, type Hex } from 'viem';
import { toEip2537G2, type Attestation } from '../core/attestation';
import { ProofgateError } from '../core/errors';
import { connect } from './clients';
import { deployContract } from './deploy';
import { operatorIdToBytes32 } from './operator-registry';
import { contractsDir } from './repo-paths';
import { compileContract, type CompiledContract } from './solc';

const sourcePath = join(contractsDir, 'AttestationValidator.sol');

/** A transaction against the AttestationValidator or a protected contract did not succeed. */
export class AttestationValidatorTxError extends ProofgateError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('attestation_validator_tx_failed', message, 500, details);
  }
}

/** The AttestationData struct as viem encodes it for AttestationValidator.consume. */
export type AttestationCallData = {
  taskId: Hex;
  policyId: Hex;
  policyClient: Address;
  chainId: bigint;
  intent: { from: Address; to: Address; value: bigint; data: Hex; chainId: bigint };
  allowed: boolean;
  policyDataHash: Hex;
  expiration: bigint;
  thresholdBps: number;
  registryBlock: bigint;
  signerIds: Hex[];
  signature: Hex;
};

/** Compiles AttestationValidator (cached). */
export function attestationValidatorArtifact(): CompiledContract {
  return compileContract(sourcePath, 'AttestationValidator');
}

/** Compiles the example ProtectedVault (cached). */
export function protectedVaultArtifact(): CompiledContract {
  return compileContract(sourcePath, 'ProtectedVault');
}

/** Converts an attestation to the contract's struct: ascending signer ids, uncompressed signature. */
export function toAttestationCallData(attestation: Attestation): AttestationCallData {
  const { intent } = attestation;
  return {
    taskId: attestation.taskId,
    policyId: attestation.policyId,
    policyClient: attestation.policyClient,
    chainId: BigInt(attestation.chainId),
    intent: { from: intent.from, to: intent.to, value: BigInt(intent.value), data: intent.data, chainId: BigInt(intent.chainId) },
    allowed: attestation.allowed,
    policyDataHash: attestation.policyDataHash,
    expiration: BigInt(attestation.expiration),
    thresholdBps: attestation.thresholdBps,
    registryBlock: BigInt(attestation.registryBlock),
    signerIds: attestation.signers.map(operatorIdToBytes32).sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1)),
    signature: toEip2537G2(hexToBytes(attestation.aggregateSignature)),
  };
}

/**
 * Deploys AttestationValidator reading `registry` (an OperatorRegistry), refusing policies that ask
 * less than `minThresholdBps` of stake.
 */
export async function deployAttestationValidator(rpcUrl: string, deployerKey: Hex, registry: Address, minThresholdBps: number): Promise<Address> {
  return deployContract(rpcUrl, deployerKey, attestationValidatorArtifact(), [registry, minThresholdBps]);
}

/** Deploys the example ProtectedVault bound to `validator` and a policy (its id and quorum), funded with `fundWei`. */
export async function deployProtectedVault(
  rpcUrl: string,
  deployerKey: Hex,
  validator: Address,
  policy: { id: Hex; thresholdBps: number },
  fundWei: bigint,
): Promise<Address> {
  const vault = await deployContract(rpcUrl, deployerKey, protectedVaultArtifact(), [validator, policy.id, policy.thresholdBps]);
  if (fundWei > 0n) {
    const { walletClient, publicClient } = await connect(rpcUrl, deployerKey);
    const hash = await walletClient.sendTransaction({ to: vault, value: fundWei });
    const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 });
    if (receipt.status !== 'success') throw new AttestationValidatorTxError('funding the vault failed', { hash });
  }
  return vault;
}

/** ABI for decoding reverts of a protected call: the vault's and the validator's custom errors together. */
export function protectedCallAbi(): Abi {
  const validatorErrors = attestationValidatorArtifact().abi.filter((item) => item.type === 'error');
  return [...protectedVaultArtifact().abi, ...validatorErrors];
}
