import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bytesToHex, decodeEventLog, hexToBytes, type Address, type Hex } from 'viem';
import { startAnvil, type AnvilInstance } from '../../../chain/anvil';
import { attestationValidatorArtifact, deployAttestationValidator } from '../../../chain/attestation-validator';
import { connect, type ChainClients } from '../../../chain/clients';
import { deployModelOutputConsumer, modelOutputConsumerArtifact, toInferenceCallData } from '../../../chain/inference-attestation';
import { deployOperatorRegistry, registerOperatorsOnChain } from '../../../chain/operator-registry';
import {
  computeInferenceDigest,
  createProofOfPossession,
  readRegistrySnapshot,
  verifyInferenceAttestation,
  type InferenceAttestation,
  type InferenceAttestationRequest,
} from '../../../core/attestation';
import { encodeTensors } from '../../../core/tensors';
import { revertsWith } from '../../support/contract-reverts';
import { QUORUM_OPERATORS, float32, inferenceRequest, outputHash, signInference } from '../../unit/quorum/fixtures';

// AttestationValidator's inference checks and the example ModelOutputConsumer on anvil (EIP-2537),
// against the TypeScript library on the same attestations: the same digest, the quorum judged by the
// registry snapshot the attestation names, single use per relying contract, and a contract acting
// on canonical tensor bytes whose sha256 is the attested output hash.

const [op1, op2, op3] = QUORUM_OPERATORS as [(typeof QUORUM_OPERATORS)[0], (typeof QUORUM_OPERATORS)[0], (typeof QUORUM_OPERATORS)[0]];
const OUTPUTS = { sum: float32([2, 3, 4, 5], [1, 4]), product: float32([1, 2, 3, 4], [1, 4]) };
const OUTPUT_BYTES = encodeTensors(OUTPUTS);
const MODEL: Hex = `0x${'5e'.repeat(32)}`;
const TOLERANCE = { absolute: 1e-5, relative: 1e-3 };

let anvil: AnvilInstance;
let user: ChainClients;
let registry: Address;
let registeredAt: number;
let validator: Address;
let consumer: Address;
let now: number;
let nextRequest = 1;

async function attest(change: Partial<InferenceAttestationRequest> = {}, signers = [op1, op2, op3]): Promise<InferenceAttestation> {
  const request = inferenceRequest({
    requestId: `0x${(nextRequest++).toString(16).padStart(64, '0')}`,
    modelSha256: MODEL,
    inputHash: `0x${'1a'.repeat(32)}`,
    outputHash: await outputHash(OUTPUTS),
    chainId: anvil.chainId,
    expiration: now + 3600,
    tolerance: TOLERANCE,
    registry,
    registryBlock: registeredAt,
    ...change,
  });
  return signInference(request, signers, await readRegistrySnapshot(user.publicClient, registry, registeredAt));
}

async function verifyOnChain(a: InferenceAttestation, required = 6700): Promise<Hex> {
  return user.publicClient.readContract({
    address: validator,
    abi: attestationValidatorArtifact().abi,
    functionName: 'verifyInference',
    args: [toInferenceCallData(a), required],
  }) as Promise<Hex>;
}

async function accept(a: InferenceAttestation, bytes: Uint8Array = OUTPUT_BYTES, at: Address = consumer): Promise<Hex> {
  const abi = [...modelOutputConsumerArtifact().abi, ...attestationValidatorArtifact().abi.filter((i) => i.type === 'error')];
  const { request } = await user.publicClient.simulateContract({
    account: user.account,
    address: at,
    abi,
    functionName: 'accept',
    args: [bytesToHex(bytes), toInferenceCallData(a)],
  });
  const hash = await user.walletClient.writeContract(request);
  const receipt = await user.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 });
  assert.equal(receipt.status, 'success');
  return hash;
}

describe('inference attestations on chain', { timeout: 180_000 }, () => {
  before(async () => {
    anvil = await startAnvil();
    const [deployer, caller] = anvil.accounts as [(typeof anvil.accounts)[0], (typeof anvil.accounts)[0]];
    user = await connect(anvil.rpcUrl, caller.privateKey);
    registry = await deployOperatorRegistry(anvil.rpcUrl, deployer.privateKey);
    const operators = QUORUM_OPERATORS.map((op) => ({
      id: op.id,
      blsPublicKey: bytesToHex(op.publicKey),
      proofOfPossession: bytesToHex(createProofOfPossession(op.secretKey)),
      stake: op.stake,
    }));
    registeredAt = Number(await registerOperatorsOnChain(anvil.rpcUrl, deployer.privateKey, registry, operators));
    validator = await deployAttestationValidator(anvil.rpcUrl, deployer.privateKey, registry, 5000);
    consumer = await deployModelOutputConsumer(anvil.rpcUrl, deployer.privateKey, validator, {
      sha256: MODEL,
      requiredThresholdBps: 6700,
      maxTolerance: TOLERANCE,
    });
    now = Number((await user.publicClient.getBlock()).timestamp);
  });
  after(async () => {
    await anvil?.stop();
  });

  it('computes the digest the library computes, and its view check accepts what the library accepts', async () => {
    const a = await attest();
    const snapshot = await readRegistrySnapshot(user.publicClient, registry, registeredAt);
    assert.deepEqual(verifyInferenceAttestation(a, snapshot, { now: BigInt(now), requiredThresholdBps: 6700 }), { valid: true, reasons: [] });
    const digest = await user.publicClient.readContract({
      address: validator,
      abi: attestationValidatorArtifact().abi,
      functionName: 'inferenceDigestOf',
      args: [toInferenceCallData(a)],
    });
    assert.equal(digest, computeInferenceDigest(a));
    assert.equal(await verifyOnChain(a), a.digest);
    const twoOfThree = await attest({}, [op1, op2]);
    assert.equal(await verifyOnChain(twoOfThree), twoOfThree.digest, '80 of 100 stake');
  });

  it('reverts on a changed output hash, model, chain, expiry, tolerance, quorum or signer list', async () => {
    const a = await attest();
    const sig = hexToBytes(a.aggregateSignature);
    sig[33] = sig[33]! ^ 1;
    const cases: [InferenceAttestation, string][] = [
      [{ ...a, outputHash: `0x${'00'.repeat(32)}` }, 'InvalidSignature'],
      [{ ...a, modelSha256: `0x${'01'.repeat(32)}` }, 'InvalidSignature'],
      [{ ...a, expiration: a.expiration + 60 }, 'InvalidSignature'],
      [{ ...a, expiration: now - 1 }, 'Expired'],
      [{ ...a, chainId: 1 }, 'WrongChain'],
      [{ ...a, tolerance: { absolute: 1, relative: 0 } }, 'InvalidSignature'],
      [{ ...a, thresholdBps: 9000 }, 'InvalidSignature'],
      [{ ...a, thresholdBps: 6000 }, 'ThresholdTooLow'],
      [{ ...a, signers: ['operator-1', 'operator-2'] }, 'InvalidSignature'],
      [{ ...a, signers: ['operator-2', 'operator-3'] }, 'QuorumNotMet'],
      [{ ...a, registryBlock: registeredAt - 1 }, 'InactiveSigner'],
      [{ ...a, aggregateSignature: bytesToHex(sig) }, ''],
    ];
    for (const [changed, error] of cases) {
      await assert.rejects(verifyOnChain(changed), error ? revertsWith(error) : () => true, `${error}: ${JSON.stringify(changed)}`);
    }
    await assert.rejects(verifyOnChain(a, 4000), revertsWith('InvalidThreshold'), "below the validator's floor");
    await assert.rejects(verifyOnChain(await attest({}, [op2, op3])), revertsWith('QuorumNotMet'), '50 of 100 stake');
  });

  it('lets a contract act once on canonical tensor bytes whose sha256 is the attested output; another contract may act on it too', async () => {
    const a = await attest();
    const hash = await accept(a);
    const receipt = await user.publicClient.getTransactionReceipt({ hash });
    const events = receipt.logs
      .filter((l) => l.address.toLowerCase() === consumer.toLowerCase())
      .map((l) => decodeEventLog({ abi: modelOutputConsumerArtifact().abi, data: l.data, topics: l.topics }));
    assert.equal(events.length, 1);
    const args = events[0]!.args as unknown as { firstOutputName: string; firstOutputType: string; firstOutputData: Hex; outputHash: Hex };
    // Tensors are encoded in the byte order of their names: "product" comes first.
    assert.equal(args.firstOutputName, 'product');
    assert.equal(args.firstOutputType, 'float32');
    assert.equal(args.firstOutputData, bytesToHex(OUTPUTS.product.data));
    assert.equal(args.outputHash, a.outputHash);
    const { abi } = modelOutputConsumerArtifact();
    assert.equal(await user.publicClient.readContract({ address: consumer, abi, functionName: 'outputOf', args: [a.inputHash] }), a.outputHash);
    await assert.rejects(accept(a), revertsWith('AlreadyConsumed'));

    const [deployer] = anvil.accounts as [(typeof anvil.accounts)[0]];
    const other = await deployModelOutputConsumer(anvil.rpcUrl, deployer.privateKey, validator, {
      sha256: MODEL,
      requiredThresholdBps: 6700,
      maxTolerance: TOLERANCE,
    });
    await accept(a, OUTPUT_BYTES, other);
  });

  it('refuses other bytes, another model, a looser tolerance than it accepts, and a lower quorum', async () => {
    const a = await attest();
    const altered = encodeTensors({ ...OUTPUTS, sum: float32([2, 3, 4, 6], [1, 4]) });
    await assert.rejects(accept(a, altered), revertsWith('OutputMismatch'));
    await assert.rejects(accept(await attest({ modelSha256: `0x${'77'.repeat(32)}` })), revertsWith('WrongModel'));
    await assert.rejects(accept(await attest({ tolerance: { absolute: 1e-4, relative: 1e-3 } })), revertsWith('ToleranceTooLoose'));
    await assert.rejects(accept(await attest({ thresholdBps: 5000 })), revertsWith('ThresholdTooLow'));
    await assert.rejects(accept(a, new Uint8Array(0)), revertsWith('OutputMismatch'));
    await accept(a);
  });
});
