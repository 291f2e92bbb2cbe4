import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bytesToHex, hexToBytes, type Address, type Hex } from 'viem';
import { startAnvil, type AnvilInstance } from '../../../chain/anvil';
import { connect, type ChainClients } from '../../../chain/clients';
import {
  attestationValidatorArtifact,
  deployAttestationValidator,
  deployProtectedVault,
  protectedCallAbi,
  toAttestationCallData,
} from '../../../chain/attestation-validator';
import {
  deployOperatorRegistry,
  operatorIdToBytes32,
  operatorRegistryArtifact,
  registerOperatorsOnChain,
  setOperatorStake,
} from '../../../chain/operator-registry';
import {
  SIGNATURE_DST,
  createProofOfPossession,
  generateKeyPair,
  hashToSignatureCurve,
  readRegistrySnapshot,
  signMessage,
  toEip2537G1,
  toEip2537G2,
  verifyAttestation,
  type Attestation,
  type OperatorRegistry,
} from '../../../core/attestation';
import {
  OPERATORS,
  POLICY_ID,
  THRESHOLD_BPS,
  makeOperator,
  makeRequest,
  rehash,
  signAttestation,
  type TestOperator,
} from '../../unit/attestation/fixtures';
import { revertsWith } from '../../support/contract-reverts';

// The OperatorRegistry and AttestationValidator contracts on anvil (Prague, EIP-2537), against the
// TypeScript library on the same attestations: the registry's checkpointed snapshots, the policy's
// quorum committed in the digest, zero stake, and single use for the policy client only.

const ONE_ETHER = 10n ** 18n;
const [op1, op2, op3, op4] = OPERATORS as [TestOperator, TestOperator, TestOperator, TestOperator];

let anvil: AnvilInstance;
let owner: ChainClients;
let user: ChainClients;
let ownerKey: Hex;
let registry: Address;
let validator: Address;
let vault: Address;
let recipient: Address;
let registeredAt: number;
let now: number;
let nextTask = 1;

const onChain = (ops: readonly TestOperator[]) =>
  ops.map((op) => ({
    id: op.id,
    blsPublicKey: bytesToHex(op.publicKey),
    proofOfPossession: bytesToHex(createProofOfPossession(op.secretKey)),
    stake: op.stake,
  }));

/** The registry as every verifier reads it: the contract's snapshot at a block. */
function snapshot(block: number, address: Address = registry): Promise<OperatorRegistry> {
  return readRegistrySnapshot(owner.publicClient, address, block);
}

/** The signed request an attestation was assembled from. */
function makeRequestLike(a: Attestation) {
  const { intentHash: _i, digest: _d, aggregateSignature: _s, signers: _a, nonSigners: _n, signedStake: _ss, totalStake: _ts, ...request } = a;
  return request;
}

/** A fresh attestation (new task id) for `user` withdrawing `value` to `recipient` from `opts.vault`. */
async function attestWithdrawal(
  opts: {
    value?: bigint;
    expiration?: number;
    signers?: readonly TestOperator[];
    block?: number;
    thresholdBps?: number;
    policyClient?: Address;
  } = {},
): Promise<Attestation> {
  const taskId = `0x${(nextTask++).toString(16).padStart(64, '0')}` as Hex;
  const block = opts.block ?? registeredAt;
  const request = makeRequest({
    taskId,
    policyClient: opts.policyClient ?? vault,
    intent: { from: user.account.address, to: recipient, value: (opts.value ?? ONE_ETHER).toString(), data: '0x', chainId: anvil.chainId },
    chainId: anvil.chainId,
    expiration: opts.expiration ?? now + 3600,
    thresholdBps: opts.thresholdBps ?? THRESHOLD_BPS,
    registry,
    registryBlock: block,
  });
  return signAttestation(request, opts.signers ?? [op2, op3, op4], await snapshot(block));
}

async function withdraw(attestation: Attestation, value = BigInt(attestation.intent.value), from: Address = vault): Promise<Hex> {
  const { request } = await user.publicClient.simulateContract({
    account: user.account,
    address: from,
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
async function assertWithdrawReverts(attestation: Attestation, errorName: string, opts: { value?: bigint; vault?: Address } = {}): Promise<void> {
  await assert.rejects(withdraw(attestation, opts.value, opts.vault), revertsWith(errorName));
}

describe('OperatorRegistry and AttestationValidator on anvil (EIP-2537 precompiles)', { timeout: 180_000 }, () => {
  before(async () => {
    anvil = await startAnvil();
    const [deployer, caller, payee] = anvil.accounts as [(typeof anvil.accounts)[0], (typeof anvil.accounts)[0], (typeof anvil.accounts)[0]];
    ownerKey = deployer.privateKey;
    owner = await connect(anvil.rpcUrl, deployer.privateKey);
    user = await connect(anvil.rpcUrl, caller.privateKey);
    recipient = payee.address;
    registry = await deployOperatorRegistry(anvil.rpcUrl, ownerKey);
    registeredAt = Number(await registerOperatorsOnChain(anvil.rpcUrl, ownerKey, registry, onChain(OPERATORS)));
    validator = await deployAttestationValidator(anvil.rpcUrl, ownerKey, registry, 5000);
    // Enough for every withdrawal below (one ether each), whatever order they run in.
    vault = await deployProtectedVault(anvil.rpcUrl, ownerKey, validator, { id: POLICY_ID, thresholdBps: THRESHOLD_BPS }, 20n * ONE_ETHER);
    now = Number((await owner.publicClient.getBlock()).timestamp);
  });

  after(async () => {
    await anvil?.stop();
  });

  it("snapshots the registry by block: keys and stakes as the library's registry holds them", async () => {
    const s = await snapshot(registeredAt);
    assert.deepEqual(
      s.operators.map((o) => [o.id, o.blsPublicKey, o.stake]),
      OPERATORS.map((op) => [op.id, bytesToHex(op.publicKey), op.stake]),
    );
    assert.equal(s.address, registry);
    // Before the last registration's block, the last operator was not a member yet.
    const earlier = await snapshot(registeredAt - 1);
    assert.deepEqual(
      earlier.operators.map((o) => o.id),
      ['op-1', 'op-2', 'op-3'],
    );
    const { abi } = operatorRegistryArtifact();
    assert.equal(
      await owner.publicClient.readContract({ address: registry, abi, functionName: 'totalStakeAt', args: [BigInt(registeredAt)] }),
      1000n,
    );
  });

  it('contract hash_to_curve and digest agree with the TypeScript implementation', async () => {
    const { abi } = attestationValidatorArtifact();
    const attestation = await attestWithdrawal();
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

  it('a valid attestation makes the protected call pass, exactly once, and the view check agrees', async () => {
    const attestation = await attestWithdrawal();
    assert.deepEqual(
      verifyAttestation(attestation, await snapshot(registeredAt), {
        now: BigInt(now),
        policyThresholdBps: THRESHOLD_BPS,
        expectedPolicyId: POLICY_ID,
      }),
      { valid: true, reasons: [] },
    );
    const { abi } = attestationValidatorArtifact();
    const viewDigest = await owner.publicClient.readContract({
      address: validator,
      abi,
      functionName: 'verify',
      args: [toAttestationCallData(attestation), THRESHOLD_BPS],
    });
    assert.equal(viewDigest, attestation.digest);
    const before = await owner.publicClient.getBalance({ address: recipient });
    await withdraw(attestation);
    assert.equal((await owner.publicClient.getBalance({ address: recipient })) - before, ONE_ETHER);
    assert.equal(await owner.publicClient.readContract({ address: validator, abi, functionName: 'consumed', args: [attestation.digest] }), true);
    await assertWithdrawReverts(attestation, 'AlreadyConsumed');
  });

  describe('a tampered attestation reverts, and consumes nothing', () => {
    const tamperings: { name: string; error: string; tamper: (a: Attestation) => Promise<Attestation> | Attestation; value?: bigint }[] = [
      { name: 'a withdrawal larger than the intent', error: 'IntentMismatch', tamper: (a) => a, value: 2n * ONE_ETHER },
      {
        name: 'an inflated intent value',
        error: 'InvalidSignature',
        tamper: (a) => rehash({ ...a, intent: { ...a.intent, value: (2n * ONE_ETHER).toString() } }),
      },
      { name: 'a later expiration', error: 'InvalidSignature', tamper: (a) => rehash({ ...a, expiration: a.expiration + 1 }) },
      // Another snapshot block (where the same signers hold the same stakes): the digest signs the block.
      { name: 'another snapshot block', error: 'InvalidSignature', tamper: (a) => rehash({ ...a, registryBlock: a.registryBlock + 1 }) },
      {
        name: "another attestation's aggregate signature",
        error: 'InvalidSignature',
        tamper: async (a) => ({ ...a, aggregateSignature: (await attestWithdrawal()).aggregateSignature }),
      },
      { name: 'a signer added to the list', error: 'InvalidSignature', tamper: (a) => ({ ...a, signers: ['op-1', ...a.signers], nonSigners: [] }) },
    ];
    for (const { name, error, tamper, value } of tamperings) {
      it(name, async () => {
        const attestation = await attestWithdrawal();
        await assertWithdrawReverts(await tamper(attestation), error, value === undefined ? {} : { value });
        // The untouched attestation still works afterwards: a failed attempt consumes nothing.
        await withdraw(attestation);
      });
    }
  });

  it('a corrupted signature encoding reverts in the precompile', async () => {
    const callData = toAttestationCallData(await attestWithdrawal());
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

  describe('expired, under-quorum, denied, wrong-policy and unsealed-snapshot attestations revert', () => {
    const refusals: { name: string; error: string; attestation: () => Promise<Attestation> }[] = [
      { name: 'expired', error: 'Expired', attestation: () => attestWithdrawal({ expiration: now - 1 }) },
      { name: 'under quorum', error: 'QuorumNotMet', attestation: () => attestWithdrawal({ signers: [op1, op2, op3] }) },
      { name: 'denied', error: 'NotAllowed', attestation: async () => rehash({ ...(await attestWithdrawal()), allowed: false }) },
      {
        name: 'for another policy',
        error: 'WrongPolicy',
        attestation: async () => rehash({ ...(await attestWithdrawal()), policyId: `0x${'cd'.repeat(32)}` }),
      },
      {
        name: 'on a snapshot block not yet sealed',
        error: 'SnapshotNotFinal',
        attestation: async () => {
          const head = Number(await owner.publicClient.getBlockNumber({ cacheTime: 0 }));
          return rehash({ ...(await attestWithdrawal()), registryBlock: head + 5 });
        },
      },
    ];
    for (const { name, error, attestation } of refusals) {
      it(name, async () => {
        await assertWithdrawReverts(await attestation(), error);
      });
    }
  });

  describe("judges quorum by the relying contract's policy: an 80 % aggregate never passes a 90 % policy", () => {
    const eighty = [op1, op3, op4]; // 800 of 1000
    let vault90: Address;
    // Shared: only the test that withdraws from it spends its one ether.
    before(async () => {
      vault90 = await deployProtectedVault(anvil.rpcUrl, ownerKey, validator, { id: POLICY_ID, thresholdBps: 9000 }, ONE_ETHER);
    });

    it("signed with the policy's own quorum, 80 % is short", async () => {
      await assertWithdrawReverts(await attestWithdrawal({ signers: eighty, thresholdBps: 9000, policyClient: vault90 }), 'QuorumNotMet', {
        vault: vault90,
      });
    });

    it("signed with a lower quorum than the policy's, it is refused for the mismatch alone", async () => {
      await assertWithdrawReverts(await attestWithdrawal({ signers: eighty, thresholdBps: 6667, policyClient: vault90 }), 'ThresholdMismatch', {
        vault: vault90,
      });
    });

    it('the same 80 % passes the 2/3 policy, and 90 % passes the 90 % one', async () => {
      await withdraw(await attestWithdrawal({ signers: eighty }));
      await withdraw(await attestWithdrawal({ signers: [op2, op3, op4], thresholdBps: 9000, policyClient: vault90 }), undefined, vault90);
    });

    it("a policy below the validator's floor is refused whatever signed it", async () => {
      const weak = await deployProtectedVault(anvil.rpcUrl, ownerKey, validator, { id: POLICY_ID, thresholdBps: 4000 }, 0n);
      await assertWithdrawReverts(await attestWithdrawal({ thresholdBps: 4000, policyClient: weak }), 'InvalidThreshold', { vault: weak });
    });
  });

  describe('zero stake, zero total stake and an empty registry never make a quorum', () => {
    const lone = makeOperator('lone', 0x5a, 0n);
    // A registry whose only operator registered with zero stake, and one with nobody at all.
    const registries: { name: string; deploy: () => Promise<[Address, number]> }[] = [
      {
        name: 'a registry whose only operator has zero stake',
        deploy: async () => {
          const reg = await deployOperatorRegistry(anvil.rpcUrl, ownerKey);
          return [reg, Number(await registerOperatorsOnChain(anvil.rpcUrl, ownerKey, reg, onChain([lone])))];
        },
      },
      {
        name: 'an empty registry',
        deploy: async () => {
          const reg = await deployOperatorRegistry(anvil.rpcUrl, ownerKey);
          return [reg, Number(await owner.publicClient.getBlockNumber({ cacheTime: 0 }))];
        },
      },
    ];
    for (const { name, deploy } of registries) {
      it(name, async () => {
        const [reg, block] = await deploy();
        const zeroValidator = await deployAttestationValidator(anvil.rpcUrl, ownerKey, reg, 5000);
        const zeroVault = await deployProtectedVault(
          anvil.rpcUrl,
          ownerKey,
          zeroValidator,
          { id: POLICY_ID, thresholdBps: THRESHOLD_BPS },
          ONE_ETHER,
        );
        assert.deepEqual((await snapshot(block, reg)).operators, [], 'no member at zero stake');
        const request = makeRequest({
          taskId: `0x${(nextTask++).toString(16).padStart(64, '0')}`,
          policyClient: zeroVault,
          intent: { from: user.account.address, to: recipient, value: ONE_ETHER.toString(), data: '0x', chainId: anvil.chainId },
          chainId: anvil.chainId,
          expiration: now + 3600,
          registry: reg,
          registryBlock: block,
        });
        // The lone operator's own valid signature over the right digest: zero stake is no membership.
        const signed = signAttestation(request, [lone], {
          address: reg,
          blockNumber: block,
          operators: [{ id: 'lone', blsPublicKey: bytesToHex(lone.publicKey), stake: 1n }],
        });
        await assertWithdrawReverts(signed, 'InactiveSigner', { vault: zeroVault });
        await assertWithdrawReverts({ ...signed, signers: [] }, 'NoSigners', { vault: zeroVault });
        const result = verifyAttestation(signed, await snapshot(block, reg), { now: BigInt(now), policyThresholdBps: THRESHOLD_BPS });
        assert.ok(result.reasons.includes('unknown_signer') && result.reasons.includes('quorum_not_met'), result.reasons.join());
      });
    }
  });

  it('a stake change on chain judges new attestations by the new snapshot and old ones by theirs', async () => {
    const old = await attestWithdrawal(); // op-2, op-3, op-4 at the registration block: 900 of 1000
    const changedAt = Number(await setOperatorStake(anvil.rpcUrl, ownerKey, registry, 'op-4', 0n));
    try {
      const changed = await snapshot(changedAt);
      assert.deepEqual(
        changed.operators.map((o) => o.id),
        ['op-1', 'op-2', 'op-3'],
      );
      // Under the new snapshot op-4 is out: an aggregate that counts it (assembled as if its stake still held) reverts.
      const stale = { ...(await snapshot(registeredAt)), blockNumber: changedAt };
      const withOp4 = signAttestation({ ...makeRequestLike(old), taskId: `0x${'7e'.repeat(32)}`, registryBlock: changedAt }, [op2, op3, op4], stale);
      await assertWithdrawReverts(withOp4, 'InactiveSigner');
      assert.ok(verifyAttestation(withOp4, changed, { now: BigInt(now), policyThresholdBps: THRESHOLD_BPS }).reasons.includes('unknown_signer'));
      const fresh = await attestWithdrawal({ block: changedAt, signers: [op2, op3] }); // 500 of 600
      assert.equal(fresh.totalStake, '600');
      await withdraw(fresh);
      // The attestation made before the change is still judged by its own block's snapshot.
      assert.deepEqual(verifyAttestation(old, await snapshot(old.registryBlock), { now: BigInt(now), policyThresholdBps: THRESHOLD_BPS }), {
        valid: true,
        reasons: [],
      });
      await withdraw(old);
    } finally {
      await setOperatorStake(anvil.rpcUrl, ownerKey, registry, 'op-4', op4.stake);
    }
  });

  it('only the policy client can consume its attestation', async () => {
    const { abi } = attestationValidatorArtifact();
    await assert.rejects(
      user.publicClient.simulateContract({
        account: user.account,
        address: validator,
        abi,
        functionName: 'consume',
        args: [toAttestationCallData(await attestWithdrawal()), THRESHOLD_BPS],
      }),
      revertsWith('WrongCaller'),
    );
  });

  describe('registration refuses keys without a valid proof of possession, duplicate keys, and non-owners', () => {
    // Simulated calls only: nothing here changes the registry.
    const register = (id: string, publicKey: Uint8Array, proof: Uint8Array, as: ChainClients = owner) =>
      as.publicClient.simulateContract({
        account: as.account,
        address: registry,
        abi: operatorRegistryArtifact().abi,
        functionName: 'registerOperator',
        args: [id, toEip2537G1(publicKey), toEip2537G2(proof), 1000n],
      });
    const mallory = generateKeyPair(new Uint8Array(32).fill(0x4d));

    it('accepts a new key with its proof of possession from the owner', async () => {
      await register('mallory', mallory.publicKey, createProofOfPossession(mallory.secretKey));
    });

    // A message signature over the key bytes is not a PoP (different DST), nor is someone else's PoP.
    it('refuses a message signature over the key bytes as a proof of possession', async () => {
      await assert.rejects(
        register('mallory', mallory.publicKey, signMessage(mallory.secretKey, mallory.publicKey)),
        revertsWith('InvalidProofOfPossession'),
      );
    });

    it("refuses someone else's proof of possession", async () => {
      await assert.rejects(register('mallory', mallory.publicKey, createProofOfPossession(op4.secretKey)), revertsWith('InvalidProofOfPossession'));
    });

    it('refuses a registration from a non-owner', async () => {
      await assert.rejects(register('mallory', mallory.publicKey, createProofOfPossession(mallory.secretKey), user), revertsWith('NotOwner'));
    });

    it('refuses a key already registered', async () => {
      await assert.rejects(register('op-1-again', op1.publicKey, createProofOfPossession(op1.secretKey)), revertsWith('KeyAlreadyRegistered'));
    });

    it('refuses an operator id already registered', async () => {
      await assert.rejects(register('op-1', mallory.publicKey, createProofOfPossession(mallory.secretKey)), revertsWith('OperatorExists'));
    });

    it('refuses a stake change from a non-owner', async () => {
      await assert.rejects(
        user.publicClient.simulateContract({
          account: user.account,
          address: registry,
          abi: operatorRegistryArtifact().abi,
          functionName: 'setStake',
          args: [operatorIdToBytes32('op-1'), 1n],
        }),
        revertsWith('NotOwner'),
      );
    });
  });
});
