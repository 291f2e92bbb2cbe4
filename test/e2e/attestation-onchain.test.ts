import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hexToBytes, bytesToHex, type Address, type Hex } from 'viem';
import { startAnvil, type AnvilInstance } from '../../chain/anvil';
import { deployProtectedVault, protectedCallAbi, toAttestationCallData } from '../../chain/attestation-validator';
import { connect, type ChainClients } from '../../chain/clients';
import { admitOperator, verifyAttestation, type Attestation, type OperatorRegistry } from '../../core/attestation';
import type { LocalStack } from '../../local-stack/launch';
import { deployValidatorForOperators, launchOperators, publishDemoAuthorizationPolicy } from '../../local-stack/operators';
import { ProcessGroup } from '../../local-stack/process-group';
import { buildPolicyData } from '../../policies/policy-data/build';
import { call, postJson } from '../support/gateway-client';
import { launchTestStack } from '../support/test-stack';
import { revertsWith } from '../support/contract-reverts';

// The whole authorization flow on one machine: the Worker in workerd, three operator processes
// (stakes 50/30/20) running a real PolicyData WebAssembly module and the Rego policy, and anvil
// with the AttestationValidator and a ProtectedVault that pays out only against an attestation.

const ONE_ETHER = 10n ** 18n;

let stack: LocalStack;
let anvil: AnvilInstance;
let user: ChainClients;
let recipient: Address;
let vault: Address;
let policyId: Hex;
const group = new ProcessGroup();

before(async () => {
  stack = await launchTestStack({ backends: 0, models: [], payments: false });
  await launchOperators({
    gateway: stack.gateway,
    adminToken: stack.adminToken,
    operatorToken: stack.operatorToken,
    stateDir: stack.stateDir,
    logsDir: stack.logsDir,
    group,
    stakes: [50n, 30n, 20n],
  });
  anvil = await startAnvil();
  const [deployer, caller, payee] = anvil.accounts as [(typeof anvil.accounts)[0], (typeof anvil.accounts)[0], (typeof anvil.accounts)[0]];
  user = await connect(anvil.rpcUrl, caller.privateKey);
  recipient = payee.address;

  const demo = await publishDemoAuthorizationPolicy(stack.gateway, stack.adminToken);
  policyId = demo.policyId;
  assert.equal(demo.policyDataSha256, (await buildPolicyData('intent-risk')).sha256);
  const module = await fetch(`${stack.gateway}/v1/policy-data/${demo.policyDataSha256}`);
  assert.equal(module.status, 200);
  assert.deepEqual(new Uint8Array(await module.arrayBuffer()), (await buildPolicyData('intent-risk')).bytes);
  assert.equal((await call(`${stack.gateway}/v1/policy-data`, { method: 'POST', body: 'not wasm' })).status, 401);
  const notWasm = await call(`${stack.gateway}/v1/policy-data`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.adminToken}` },
    body: 'not wasm at all',
  });
  assert.equal(notWasm.body.error.code, 'invalid_wasm');

  const validator = await deployValidatorForOperators({ gateway: stack.gateway, rpcUrl: anvil.rpcUrl, ownerKey: deployer.privateKey });
  vault = await deployProtectedVault(anvil.rpcUrl, deployer.privateKey, validator, policyId, 10n * ONE_ETHER);
});
after(async () => {
  await group.stopAll();
  await anvil?.stop();
  await stack?.stop();
});

async function registry(): Promise<OperatorRegistry> {
  let r: OperatorRegistry = { operators: [] };
  for (const o of (await call(`${stack.gateway}/v1/operators`)).body.operators as any[]) {
    if (o.status === 'active')
      r = admitOperator(r, { id: o.id, blsPublicKey: o.blsPublicKey, proofOfPossession: o.proofOfPossession, stake: o.stake });
  }
  return r;
}

async function attest(value: bigint, to: Address = recipient): Promise<any> {
  const res = await postJson(`${stack.gateway}/v1/intents`, {
    intent: { from: user.account.address, to, value: value.toString(), data: '0x', chainId: anvil.chainId },
    policyId,
    policyClient: vault,
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.status, 'completed', JSON.stringify(res.body));
  return res.body;
}

async function withdraw(attestation: Attestation, value = BigInt(attestation.intent.value)): Promise<void> {
  const { request } = await user.publicClient.simulateContract({
    account: user.account,
    address: vault,
    abi: protectedCallAbi(),
    functionName: 'withdraw',
    args: [recipient, value, toAttestationCallData(attestation)],
  });
  const receipt = await user.publicClient.waitForTransactionReceipt({ hash: await user.walletClient.writeContract(request), pollingInterval: 50 });
  assert.equal(receipt.status, 'success');
}

describe('intent → PolicyData → Rego → BLS quorum → attestation', { timeout: 180_000 }, () => {
  it('fixes the PolicyData output by consensus and attests under it', async () => {
    const task = await attest(ONE_ETHER / 2n);
    const a: Attestation = task.attestation;
    assert.equal(a.allowed, true);
    assert.deepEqual(Object.keys(task.policyData), ['risk']);
    assert.equal(task.policyData.risk.maxValueWei, '1000000000000000000');
    assert.equal(task.policyData.risk.calldataBytes, 0);
    assert.equal(a.policyDataHash, task.policyDataHash);
    const now = BigInt(Math.floor(Date.now() / 1000));
    assert.deepEqual(
      verifyAttestation(a, await registry(), { now, expectedChainId: anvil.chainId, expectedPolicyId: policyId, expectedPolicyClient: vault }),
      { valid: true, reasons: [] },
    );
    const sig = hexToBytes(a.aggregateSignature);
    sig[47] = sig[47]! ^ 0x01;
    const flips: Attestation[] = [
      { ...a, policyDataHash: `0x${'00'.repeat(32)}` as Hex },
      { ...a, allowed: false },
      { ...a, chainId: 1, intent: { ...a.intent, chainId: 1 } },
      { ...a, policyId: `0x${'cd'.repeat(32)}` as Hex },
      { ...a, expiration: a.expiration - 1 },
      { ...a, aggregateSignature: bytesToHex(sig) },
      { ...a, signers: a.signers.slice(1), nonSigners: [...a.nonSigners, a.signers[0]!] },
    ];
    for (const flipped of flips) {
      assert.equal(verifyAttestation(flipped, await registry(), { now, requireAllowed: false }).valid, false);
      const consume = await postJson(`${stack.gateway}/v1/attestations/consume`, { attestation: flipped, requireAllowed: false });
      assert.equal(consume.body.error.code, 'invalid_attestation');
    }
    assert.deepEqual(verifyAttestation(a, await registry(), { now: BigInt(a.expiration) + 1n }).reasons, ['expired']);
    assert.equal((await postJson(`${stack.gateway}/v1/attestations/consume`, { attestation: a })).status, 200);
    assert.equal((await postJson(`${stack.gateway}/v1/attestations/consume`, { attestation: a })).body.error.code, 'attestation_already_used');
  });

  it('denies what the PolicyData module flags', async () => {
    const blocked = await attest(1n, '0x000000000000000000000000000000000000dEaD');
    assert.equal(blocked.attestation.allowed, false);
    assert.deepEqual(blocked.attestation.reasons, ['recipient is blocked']);
    const tooMuch = await attest(2n * ONE_ETHER);
    assert.deepEqual(tooMuch.attestation.reasons, ['value above the PolicyData limit']);
  });

  it('lets an attestation make the protected call pass once; reused or tampered ones revert', async () => {
    const { attestation } = await attest(ONE_ETHER);
    const before = await user.publicClient.getBalance({ address: recipient });
    await withdraw(attestation);
    assert.equal(await user.publicClient.getBalance({ address: recipient }), before + ONE_ETHER);
    await assert.rejects(withdraw(attestation), revertsWith('AlreadyConsumed'));

    const fresh: Attestation = (await attest(ONE_ETHER / 4n)).attestation;
    const sig = hexToBytes(fresh.aggregateSignature);
    sig[10] = sig[10]! ^ 0x01;
    await assert.rejects(withdraw({ ...fresh, expiration: fresh.expiration + 60 }), revertsWith('InvalidSignature'));
    await assert.rejects(withdraw({ ...fresh, signers: fresh.signers.slice(0, 1) }), revertsWith('QuorumNotMet'));
    await assert.rejects(withdraw({ ...fresh, allowed: false }), revertsWith('NotAllowed'));
    await assert.rejects(withdraw({ ...fresh, aggregateSignature: bytesToHex(sig) }));
    await assert.rejects(withdraw(fresh, ONE_ETHER), revertsWith('IntentMismatch'));
    await withdraw(fresh);
  });
});
