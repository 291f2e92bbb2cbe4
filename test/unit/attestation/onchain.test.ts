import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bytesToHex, hexToBytes, type Address, type Hex } from 'viem';
import { startAnvil, type AnvilInstance } from '../../../chain/anvil';
import { connect, type ChainClients } from '../../../chain/clients';
import {
  attestationValidatorArtifact,
  deployAttestationValidator,
  deployProtectedVault,
  operatorIdToBytes32,
  protectedCallAbi,
  registerOperatorsOnChain,
  toAttestationCallData,
} from '../../../chain/attestation-validator';
import {
  SIGNATURE_DST,
  createProofOfPossession,
  generateKeyPair,
  hashToSignatureCurve,
  signMessage,
  toEip2537G1,
  toEip2537G2,
  verifyAttestation,
  type Attestation,
} from '../../../core/attestation';
import { OPERATORS, POLICY_ID, makeRegistry, makeRequest, rehash, signAttestation } from './fixtures';
import { revertsWith } from '../../support/contract-reverts';

const ONE_ETHER = 10n ** 18n;
const registry = makeRegistry();
const [op1, op2, op3, op4] = OPERATORS as [(typeof OPERATORS)[0], (typeof OPERATORS)[0], (typeof OPERATORS)[0], (typeof OPERATORS)[0]];

let anvil: AnvilInstance;
let owner: ChainClients;
let user: ChainClients;
let validator: Address;
let vault: Address;
let recipient: Address;
let now: number;
let nextTask = 1;

/** A fresh attestation (new task id) for `user` withdrawing `value` to `recipient` from the vault. */
function attestWithdrawal(opts: { value?: bigint; expiration?: number; signers?: typeof OPERATORS } = {}): Attestation {
  const taskId = `0x${(nextTask++).toString(16).padStart(64, '0')}` as Hex;
  const request = makeRequest({
    taskId,
    policyClient: vault,
    intent: { from: user.account.address, to: recipient, value: (opts.value ?? ONE_ETHER).toString(), data: '0x', chainId: anvil.chainId },
    chainId: anvil.chainId,
    expiration: opts.expiration ?? now + 3600,
  });
  return signAttestation(request, opts.signers ?? [op2, op3, op4], registry);
}

async function withdraw(attestation: Attestation, value = BigInt(attestation.intent.value)): Promise<Hex> {
  const { request } = await user.publicClient.simulateContract({
    account: user.account,
    address: vault,
    abi: protectedCallAbi(),
    functionName: 'withdraw',
    args: [recipient, value, toAttestationCallData(attestation)],
  });
  const hash = await user.walletClient.writeContract(request);
  const receipt = await user.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 });
  assert.equal(receipt.status, 'success');
  return hash;
}

/** Asserts the protected call reverts with the named custom error (from the vault or the validator). */
async function assertWithdrawReverts(attestation: Attestation, errorName: string, value?: bigint): Promise<void> {
  await assert.rejects(withdraw(attestation, value), revertsWith(errorName));
}

describe('AttestationValidator on anvil (EIP-2537 precompiles)', { timeout: 120_000 }, () => {
  before(async () => {
    anvil = await startAnvil();
    const [deployer, caller, payee] = anvil.accounts as [(typeof anvil.accounts)[0], (typeof anvil.accounts)[0], (typeof anvil.accounts)[0]];
    owner = await connect(anvil.rpcUrl, deployer.privateKey);
    user = await connect(anvil.rpcUrl, caller.privateKey);
    recipient = payee.address;
    validator = await deployAttestationValidator(anvil.rpcUrl, deployer.privateKey, 6667);
    await registerOperatorsOnChain(
      anvil.rpcUrl,
      deployer.privateKey,
      validator,
      OPERATORS.map((op) => ({
        id: op.id,
        blsPublicKey: bytesToHex(op.publicKey),
        proofOfPossession: bytesToHex(createProofOfPossession(op.secretKey)),
        stake: op.stake,
      })),
    );
    vault = await deployProtectedVault(anvil.rpcUrl, deployer.privateKey, validator, POLICY_ID, 10n * ONE_ETHER);
    now = Number((await owner.publicClient.getBlock()).timestamp);
  });

  after(async () => {
    await anvil?.stop();
  });

  it('registered operators and stake match the off-chain registry', async () => {
    const { abi } = attestationValidatorArtifact();
    const total = await owner.publicClient.readContract({ address: validator, abi, functionName: 'totalActiveStake' });
    assert.equal(total, 1000n);
    const [, stake, active] = (await owner.publicClient.readContract({
      address: validator,
      abi,
      functionName: 'operatorOf',
      args: [operatorIdToBytes32('op-3')],
    })) as [Hex, bigint, boolean];
    assert.equal(stake, 300n);
    assert.equal(active, true);
  });

  it('contract hash_to_curve and digest agree with the TypeScript implementation', async () => {
    const { abi } = attestationValidatorArtifact();
    const attestation = attestWithdrawal();
    const message = hexToBytes(attestation.digest);
    const onChainHash = await owner.publicClient.readContract({
      address: validator,
      abi,
      functionName: 'hashToG2',
      args: [attestation.digest, bytesToHex(new TextEncoder().encode(SIGNATURE_DST))],
    });
    assert.equal(onChainHash, toEip2537G2(hashToSignatureCurve(message)));
    const onChainDigest = await owner.publicClient.readContract({
      address: validator,
      abi,
      functionName: 'digestOf',
      args: [toAttestationCallData(attestation)],
    });
    assert.equal(onChainDigest, attestation.digest);
  });

  it('a valid attestation makes the protected call pass, exactly once', async () => {
    const attestation = attestWithdrawal();
    assert.deepEqual(verifyAttestation(attestation, registry, { now: BigInt(now), expectedPolicyId: POLICY_ID }), {
      valid: true,
      reasons: [],
    });
    const before = await owner.publicClient.getBalance({ address: recipient });
    await withdraw(attestation);
    assert.equal((await owner.publicClient.getBalance({ address: recipient })) - before, ONE_ETHER);
    const { abi } = attestationValidatorArtifact();
    assert.equal(await owner.publicClient.readContract({ address: validator, abi, functionName: 'consumed', args: [attestation.digest] }), true);
    await assertWithdrawReverts(attestation, 'AlreadyConsumed');
  });

  it('a tampered attestation reverts', async () => {
    const attestation = attestWithdrawal();
    // A different amount than attested: the vault refuses the intent.
    await assertWithdrawReverts(attestation, 'IntentMismatch', 2n * ONE_ETHER);
    // Amount changed in the attestation too (hashes recomputed): the signature no longer matches.
    const inflated = rehash({ ...attestation, intent: { ...attestation.intent, value: (2n * ONE_ETHER).toString() } });
    await assertWithdrawReverts(inflated, 'InvalidSignature');
    // Expiration extended by the holder.
    await assertWithdrawReverts(rehash({ ...attestation, expiration: attestation.expiration + 1 }), 'InvalidSignature');
    // A valid signature over another digest (a real G2 point, so only the pairing can object).
    const other = attestWithdrawal();
    await assertWithdrawReverts({ ...attestation, aggregateSignature: other.aggregateSignature }, 'InvalidSignature');
    // Claiming a signer that did not sign.
    await assertWithdrawReverts({ ...attestation, signers: ['op-1', ...attestation.signers], nonSigners: [] }, 'InvalidSignature');
    // The untouched attestation still works afterwards: failed attempts consume nothing.
    await withdraw(attestation);
  });

  it('a corrupted signature encoding reverts in the precompile', async () => {
    const attestation = attestWithdrawal();
    const callData = toAttestationCallData(attestation);
    const signature = hexToBytes(callData.signature);
    signature[255]! ^= 1; // y no longer on the curve
    await assert.rejects(
      user.publicClient.simulateContract({
        account: user.account,
        address: vault,
        abi: protectedCallAbi(),
        functionName: 'withdraw',
        args: [recipient, ONE_ETHER, { ...callData, signature: bytesToHex(signature) }],
      }),
      revertsWith('PrecompileFailed'),
    );
  });

  it('expired, under-quorum, denied and wrong-policy attestations revert', async () => {
    await assertWithdrawReverts(attestWithdrawal({ expiration: now - 1 }), 'Expired');
    await assertWithdrawReverts(attestWithdrawal({ signers: [op1, op2, op3] }), 'QuorumNotMet');
    await assertWithdrawReverts(rehash({ ...attestWithdrawal(), allowed: false }), 'NotAllowed');
    await assertWithdrawReverts(rehash({ ...attestWithdrawal(), policyId: `0x${'cd'.repeat(32)}` }), 'WrongPolicy');
  });

  it('only the policy client can consume its attestation', async () => {
    const { abi } = attestationValidatorArtifact();
    await assert.rejects(
      user.publicClient.simulateContract({
        account: user.account,
        address: validator,
        abi,
        functionName: 'consume',
        args: [toAttestationCallData(attestWithdrawal())],
      }),
      revertsWith('WrongCaller'),
    );
  });

  it('registration refuses keys without a valid proof of possession, and duplicate keys', async () => {
    const { abi } = attestationValidatorArtifact();
    const register = (id: string, publicKey: Uint8Array, proof: Uint8Array) =>
      owner.publicClient.simulateContract({
        account: owner.account,
        address: validator,
        abi,
        functionName: 'registerOperator',
        args: [operatorIdToBytes32(id), toEip2537G1(publicKey), toEip2537G2(proof), 1000n],
      });
    const mallory = generateKeyPair(new Uint8Array(32).fill(0x4d));
    // A message signature over the key bytes is not a PoP (different DST), nor is someone else's PoP.
    for (const proof of [signMessage(mallory.secretKey, mallory.publicKey), createProofOfPossession(op4.secretKey)]) {
      await assert.rejects(register('mallory', mallory.publicKey, proof), revertsWith('InvalidProofOfPossession'));
    }
    await register('mallory', mallory.publicKey, createProofOfPossession(mallory.secretKey));
    await assert.rejects(register('op-1-again', op1.publicKey, createProofOfPossession(op1.secretKey)), revertsWith('KeyAlreadyRegistered'));
  });
});
