import { join } from 'node:path';
import { hexToBytes, keccak256, stringToBytes, type Abi, type Address, type Hex } from 'viem';
import { toEip2537G1, toEip2537G2, type Attestation } from '../core/attestation';
import { ProofgateError } from '../core/errors';
import { connect } from './clients';
import { deployContract } from './deploy';
import { contractsDir } from './repo-paths';
import { compileContract, type CompiledContract } from './solc';

const sourcePath = join(contractsDir, 'AttestationValidator.sol');

/** A transaction against the AttestationValidator or a protected contract did not succeed. */
export class AttestationValidatorTxError extends ProofgateError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('attestation_validator_tx_failed', message, 500, details);
  }
}

/** An operator to register on-chain: compressed key and proof of possession, as in the off-chain registry. */
export type OnChainOperator = { id: string; blsPublicKey: Hex; proofOfPossession: Hex; stake: bigint };

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

/** The on-chain id of an operator: keccak256 of its off-chain id (UTF-8). */
export function operatorIdToBytes32(id: string): Hex {
  return keccak256(stringToBytes(id));
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
    signerIds: attestation.signers.map(operatorIdToBytes32).sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1)),
    signature: toEip2537G2(hexToBytes(attestation.aggregateSignature)),
  };
}

/** Deploys AttestationValidator with `ownerKey` as owner and the given quorum threshold. */
export async function deployAttestationValidator(rpcUrl: string, ownerKey: Hex, thresholdBps: number): Promise<Address> {
  return deployContract(rpcUrl, ownerKey, attestationValidatorArtifact(), [thresholdBps]);
}

/** Registers operators (the contract checks each proof of possession); waits for every receipt. */
export async function registerOperatorsOnChain(
  rpcUrl: string,
  ownerKey: Hex,
  validator: Address,
  operators: readonly OnChainOperator[],
): Promise<void> {
  const { walletClient, publicClient } = await connect(rpcUrl, ownerKey);
  const { abi } = attestationValidatorArtifact();
  for (const operator of operators) {
    const hash = await walletClient.writeContract({
      address: validator,
      abi,
      functionName: 'registerOperator',
      args: [
        operatorIdToBytes32(operator.id),
        toEip2537G1(hexToBytes(operator.blsPublicKey)),
        toEip2537G2(hexToBytes(operator.proofOfPossession)),
        operator.stake,
      ],
    });
    const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 });
    if (receipt.status !== 'success') {
      throw new AttestationValidatorTxError(`registering operator ${operator.id} reverted`, { hash });
    }
  }
}

/** Deploys the example ProtectedVault bound to `validator` and `policyId`, funded with `fundWei`. */
export async function deployProtectedVault(rpcUrl: string, deployerKey: Hex, validator: Address, policyId: Hex, fundWei: bigint): Promise<Address> {
  const vault = await deployContract(rpcUrl, deployerKey, protectedVaultArtifact(), [validator, policyId]);
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
