import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { bytesToHex, hexToBytes, type Address, type Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { startAnvil, type AnvilInstance } from '../../chain/anvil';
import { attestationValidatorArtifact, deployProtectedVault, protectedCallAbi, toAttestationCallData } from '../../chain/attestation-validator';
import { connect, type ChainClients } from '../../chain/clients';
import { setOperatorStake } from '../../chain/operator-registry';
import {
  BlsSignatureError,
  assembleAttestation,
  consumeConsentTypedData,
  readRegistrySnapshot,
  requestDigest,
  signMessage,
  verifyAttestation,
  type Attestation,
  type AttestationRequest,
} from '../../core/attestation';
import type { LocalStack } from '../../local-stack/launch';
import {
  DEMO_INTENT_POLICY,
  deployOperatorChain,
  deployValidatorForOperators,
  launchOperators,
  publishDemoIntentPolicy,
  type LaunchedOperator,
  type DeployedOperatorChain,
} from '../../local-stack/operators';
import { ProcessGroup } from '../../local-stack/process-group';
import { buildPolicyData } from '../../policies/policy-data/build';
import { call, postJson } from '../support/gateway-client';
import { launchTestStack } from '../support/test-stack';
import { revertsWith } from '../support/contract-reverts';
import { ATTESTATION_TAMPERINGS } from '../support/attestation-tamperings';

// The whole intent flow on one machine: anvil with the OperatorRegistry (three operators,
// stakes 50/30/20, registered with their proofs of possession), the AttestationValidator reading it
// and a ProtectedVault that pays out only against an attestation; the Worker in workerd snapshotting
// the registry per task; three signer nodes running a real PolicyData WebAssembly module and the
// Rego policy. The library, the endpoint and the contract judge each attestation by the same snapshot.

const ONE_ETHER = 10n ** 18n;

let stack: LocalStack;
let anvil: AnvilInstance;
let chain: DeployedOperatorChain;
let user: ChainClients;
let recipient: Address;
let validator: Address;
let vault: Address;
let policyId: Hex;
let thresholdBps: number;
let operators: LaunchedOperator[];
const keys = new Map<string, Uint8Array>();
const group = new ProcessGroup();

before(async () => {
  anvil = await startAnvil();
  const [deployer, caller, payee] = anvil.accounts as [(typeof anvil.accounts)[0], (typeof anvil.accounts)[0], (typeof anvil.accounts)[0]];
  chain = await deployOperatorChain(anvil.rpcUrl, deployer.privateKey);
  stack = await launchTestStack({ backends: 0, models: [], payments: false, workerVars: chain.workerVars });
  operators = await launchOperators({
    gateway: stack.gateway,
    operatorToken: stack.operatorToken,
    chain,
    stateDir: stack.stateDir,
    logsDir: stack.logsDir,
    group,
    stakes: [50n, 30n, 20n],
  });
  for (const o of operators) keys.set(o.id, hexToBytes((await readFile(o.keyFile, 'utf8')).trim() as Hex));
  user = await connect(anvil.rpcUrl, caller.privateKey);
  recipient = payee.address;

  const demo = await publishDemoIntentPolicy(stack.gateway, stack.adminToken);
  policyId = demo.policyId;
  thresholdBps = demo.thresholdBps;
  assert.equal((await call(`${stack.gateway}/v1/policies/${policyId}`)).body.thresholdBps, thresholdBps);
  assert.equal(demo.policyDataSha256, (await buildPolicyData('intent-risk')).sha256);
  const module = await fetch(`${stack.gateway}/v1/policy-data/${demo.policyDataSha256}`);
  assert.equal(module.status, 200);
  assert.deepEqual(new Uint8Array(await module.arrayBuffer()), (await buildPolicyData('intent-risk')).bytes);

  validator = await deployValidatorForOperators(chain);
  vault = await deployProtectedVault(anvil.rpcUrl, deployer.privateKey, validator, { id: policyId, thresholdBps }, 10n * ONE_ETHER);
});
after(async () => {
  await group.stopAll();
  await stack?.stop();
  await anvil?.stop();
});

const nowS = () => BigInt(Math.floor(Date.now() / 1000));
const snapshotOf = (a: Attestation) => readRegistrySnapshot(user.publicClient, a.registry, a.registryBlock);

async function attest(value: bigint, opts: { to?: Address; policy?: Hex; client?: Address } = {}): Promise<any> {
  const res = await postJson(`${stack.gateway}/v1/intents`, {
    intent: { from: user.account.address, to: opts.to ?? recipient, value: value.toString(), data: '0x', chainId: anvil.chainId },
    policyId: opts.policy ?? policyId,
    policyClient: opts.client ?? vault,
    waitMs: 25_000,
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.status, 'completed', JSON.stringify(res.body));
  return res.body;
}

async function withdraw(attestation: Attestation, value = BigInt(attestation.intent.value), from: Address = vault): Promise<void> {
  const { request } = await user.publicClient.simulateContract({
    account: user.account,
    address: from,
    abi: protectedCallAbi(),
    functionName: 'withdraw',
    args: [recipient, value, toAttestationCallData(attestation)],
  });
  const receipt = await user.publicClient.waitForTransactionReceipt({ hash: await user.walletClient.writeContract(request), pollingInterval: 50 });
  assert.equal(receipt.status, 'success');
}

/** An attestation the named operators assemble alone with their real keys, for a task the gateway never ran. */
async function colluding(signers: string[], fields: Partial<AttestationRequest>): Promise<Attestation> {
  const head = Number(await user.publicClient.getBlockNumber({ cacheTime: 0 }));
  const request: AttestationRequest = {
    taskId: bytesToHex(crypto.getRandomValues(new Uint8Array(32))),
    policyId,
    policyClient: vault,
    chainId: anvil.chainId,
    intent: { from: user.account.address, to: recipient, value: ONE_ETHER.toString(), data: '0x', chainId: anvil.chainId },
    allowed: true,
    reasons: [],
    policyDataHash: `0x${'a8'.repeat(32)}`,
    expiration: Number(nowS()) + 600,
    thresholdBps,
    registry: chain.registry,
    registryBlock: head,
    ...fields,
  };
  const digest = hexToBytes(requestDigest(request));
  const signatures = signers.map((id) => ({ operatorId: id, signature: bytesToHex(signMessage(keys.get(id)!, digest)) }));
  const claimed = {
    address: chain.registry,
    blockNumber: head,
    operators: operators.map((o) => ({ id: o.id, blsPublicKey: o.blsPublicKey, stake: BigInt(o.stake) })),
  };
  return assembleAttestation(request, signatures, claimed);
}

describe('intent → PolicyData → Rego → BLS quorum → attestation → protected call', { timeout: 600_000 }, () => {
  /** One allowed task, attested: shared by the tests below, none of which consumes it. */
  let task: any;
  let a: Attestation;
  let expect: Parameters<typeof verifyAttestation>[2];
  before(async () => {
    task = await attest(ONE_ETHER / 2n);
    a = task.attestation;
    expect = {
      now: nowS(),
      policyThresholdBps: thresholdBps,
      expectedChainId: anvil.chainId,
      expectedPolicyId: policyId,
      expectedPolicyClient: vault,
    };
  });

  it('fixes the PolicyData output by consensus of signed reports and attests under the registry snapshot', async () => {
    assert.equal(a.allowed, true);
    assert.deepEqual(Object.keys(task.policyData), ['risk']);
    assert.equal(task.policyData.risk.maxValueWei, '1000000000000000000');
    assert.equal(a.policyDataHash, task.policyDataHash);
    assert.equal(a.registry, chain.registry);
    assert.equal(a.thresholdBps, thresholdBps);
    assert.deepEqual(verifyAttestation(a, await snapshotOf(a), expect), { valid: true, reasons: [] });
    assert.deepEqual((await postJson(`${stack.gateway}/v1/attestations/verify`, { attestation: a })).body, { valid: true, reasons: [] });
    const onChain = await user.publicClient.readContract({
      address: validator,
      abi: attestationValidatorArtifact().abi,
      functionName: 'verify',
      args: [toAttestationCallData(a), thresholdBps],
    });
    assert.equal(onChain, a.digest, 'the contract view check agrees');
  });

  describe('refuses the attestation with a signed field, a signature byte or the signer list changed', () => {
    for (const [changed, flip] of ATTESTATION_TAMPERINGS) {
      it(`with ${changed} changed, in the library and at the endpoint`, async () => {
        const flipped = flip(a);
        assert.equal(verifyAttestation(flipped, await snapshotOf(a), { ...expect, requireAllowed: false }).valid, false);
        assert.equal((await postJson(`${stack.gateway}/v1/attestations/verify`, { attestation: flipped, requireAllowed: false })).body.valid, false);
      });
    }
  });

  it('denies a recipient the PolicyData module flags', async () => {
    const blocked = await attest(1n, { to: '0x000000000000000000000000000000000000dEaD' });
    assert.equal(blocked.attestation.allowed, false);
    assert.deepEqual(blocked.attestation.reasons, ['recipient is blocked']);
  });

  it('denies a value above the PolicyData limit', async () => {
    const tooMuch = await attest(2n * ONE_ETHER);
    assert.deepEqual(tooMuch.attestation.reasons, ['value above the PolicyData limit']);
  });

  it('lets an attestation make the protected call pass once; a reused one reverts', async () => {
    const { attestation } = await attest(ONE_ETHER);
    const before = await user.publicClient.getBalance({ address: recipient });
    await withdraw(attestation);
    assert.equal(await user.publicClient.getBalance({ address: recipient }), before + ONE_ETHER);
    await assert.rejects(withdraw(attestation), revertsWith('AlreadyConsumed'));
  });

  describe('reverts a tampered attestation on chain, consuming nothing', () => {
    const tamperings: [string, (fresh: Attestation) => Promise<void>][] = [
      ['a later expiration', (f) => assert.rejects(withdraw({ ...f, expiration: f.expiration + 60 }), revertsWith('InvalidSignature'))],
      ['an earlier registry block', (f) => assert.rejects(withdraw({ ...f, registryBlock: f.registryBlock - 1 }), revertsWith('InvalidSignature'))],
      ['a lower threshold', (f) => assert.rejects(withdraw({ ...f, thresholdBps: 5000 }), revertsWith('ThresholdMismatch'))],
      ['signers dropped', (f) => assert.rejects(withdraw({ ...f, signers: f.signers.slice(0, 1) }), revertsWith('QuorumNotMet'))],
      ['the verdict flipped', (f) => assert.rejects(withdraw({ ...f, allowed: false }), revertsWith('NotAllowed'))],
      [
        'a signature byte flipped',
        (f) => {
          const sig = hexToBytes(f.aggregateSignature);
          sig[10] = sig[10]! ^ 0x01;
          // The flipped point is no G2 point: it cannot even be encoded for the contract (the
          // contract's own refusal of a bad encoding is tested in test/integration/attestation/onchain.test.ts).
          return assert.rejects(
            withdraw({ ...f, aggregateSignature: bytesToHex(sig) }),
            (e: unknown) => e instanceof BlsSignatureError && e.code === 'invalid_signature_encoding',
          );
        },
      ],
      ['a larger withdrawal than the intent', (f) => assert.rejects(withdraw(f, ONE_ETHER), revertsWith('IntentMismatch'))],
    ];
    for (const [name, refused] of tamperings) {
      it(name, async () => {
        const fresh: Attestation = (await attest(ONE_ETHER / 4n)).attestation;
        await refused(fresh);
        // The untouched attestation still passes: the refused attempt consumed nothing.
        await withdraw(fresh);
      });
    }
  });

  it('is spent only by its policy client: a stranger can burn it neither at the gateway nor on chain', async () => {
    const { attestation } = await attest(ONE_ETHER / 8n);
    const stranger = generatePrivateKey();
    const issuedAt = Math.floor(Date.now() / 1000);
    const consent = {
      issuedAt,
      signature: await privateKeyToAccount(stranger).signTypedData(consumeConsentTypedData(attestation.digest, attestation.chainId, issuedAt)),
    };
    assert.equal((await postJson(`${stack.gateway}/v1/attestations/consume`, { attestation })).status, 401);
    const signedByStranger = await postJson(`${stack.gateway}/v1/attestations/consume`, { attestation, consent });
    assert.equal(signedByStranger.status, 403);
    assert.equal(signedByStranger.body.error.code, 'not_policy_client');
    await assert.rejects(
      user.publicClient.simulateContract({
        account: user.account,
        address: validator,
        abi: attestationValidatorArtifact().abi,
        functionName: 'consume',
        args: [toAttestationCallData(attestation), thresholdBps],
      }),
      revertsWith('WrongCaller'),
    );
    await withdraw(attestation);
  });

  describe("judges quorum by the relying contract's policy: 80 % of stake never passes a 90 % policy on chain", () => {
    let policy90: Hex;
    let vault90: Address;
    // Shared: a 90 % policy and a vault relying on it (one ether; only the 100 % test withdraws).
    before(async () => {
      const { body } = await postJson(
        `${stack.gateway}/v1/policies`,
        {
          modules: { 'intent.rego': DEMO_INTENT_POLICY },
          entrypoint: 'data.proofgate.intent',
          params: { maxCalldataBytes: 68 },
          policyData: (await call(`${stack.gateway}/v1/policies/${policyId}`)).body.policyData,
          thresholdBps: 9000,
        },
        { authorization: `Bearer ${stack.adminToken}` },
      );
      policy90 = body.id as Hex;
      vault90 = await deployProtectedVault(anvil.rpcUrl, anvil.accounts[0]!.privateKey, validator, { id: policy90, thresholdBps: 9000 }, ONE_ETHER);
    });

    it('passes 100 % (all three operators through the gateway)', async () => {
      const full: Attestation = (await attest(ONE_ETHER / 10n, { policy: policy90, client: vault90 })).attestation;
      assert.equal(full.thresholdBps, 9000);
      await withdraw(full, undefined, vault90);
    });

    // operator-1 and operator-2 (80 %) collude, signing with the policy's quorum or with a lower one.
    it("refuses operator-1 and operator-2 (80 %) colluding with the policy's quorum", async () => {
      const honest = await colluding(['operator-1', 'operator-2'], { policyId: policy90, policyClient: vault90, thresholdBps: 9000 });
      await assert.rejects(withdraw(honest, undefined, vault90), revertsWith('QuorumNotMet'));
      assert.equal((await postJson(`${stack.gateway}/v1/attestations/verify`, { attestation: honest })).body.valid, false);
    });

    it('refuses them signing a lower quorum than the policy asks', async () => {
      const lowered = await colluding(['operator-1', 'operator-2'], { policyId: policy90, policyClient: vault90, thresholdBps: 6700 });
      await assert.rejects(withdraw(lowered, undefined, vault90), revertsWith('ThresholdMismatch'));
      assert.equal((await postJson(`${stack.gateway}/v1/attestations/verify`, { attestation: lowered })).body.valid, false);
    });
  });

  it('a stake change on chain: new tasks are judged under the new snapshot, old attestations under theirs', async () => {
    const old: Attestation = (await attest(ONE_ETHER / 16n)).attestation;
    assert.equal(old.totalStake, '100');
    await setOperatorStake(chain.rpcUrl, chain.ownerKey, chain.registry, 'operator-1', 0n);
    try {
      const task = await attest(ONE_ETHER / 32n);
      const fresh: Attestation = task.attestation;
      assert.ok(fresh.registryBlock > old.registryBlock);
      assert.equal(fresh.totalStake, '50');
      assert.ok(!fresh.signers.includes('operator-1') && !fresh.nonSigners.includes('operator-1'));
      // operator-1's key is still real, but at zero stake it counts for nothing: on chain, at the endpoint, in the library.
      const zeroStake = await colluding(['operator-1'], {});
      await assert.rejects(withdraw(zeroStake), revertsWith('InactiveSigner'));
      const verdict = await postJson(`${stack.gateway}/v1/attestations/verify`, { attestation: zeroStake });
      assert.ok(verdict.body.reasons.includes('unknown_signer') && verdict.body.reasons.includes('quorum_not_met'), verdict.body.reasons.join());
      // Each attestation verifies against its own snapshot, off chain and on chain.
      for (const a of [old, fresh]) {
        assert.deepEqual(verifyAttestation(a, await snapshotOf(a), { now: nowS(), policyThresholdBps: thresholdBps }), { valid: true, reasons: [] });
        assert.deepEqual((await postJson(`${stack.gateway}/v1/attestations/verify`, { attestation: a })).body, { valid: true, reasons: [] });
        await withdraw(a);
      }
    } finally {
      await setOperatorStake(chain.rpcUrl, chain.ownerKey, chain.registry, 'operator-1', 50n);
    }
  });
});
