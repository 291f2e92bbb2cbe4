import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeFunctionData, parseAbi, stringToHex, type Hex } from 'viem';
import type { IntentTask } from '../../../core/operator-protocol';
import { componentInput, policyDataDocument, policyInput } from '../../../signer-node/newton-shapes';

// What a Newton policy sees on Proofgate: Newton's intent fields in `input`, the merged outputs of
// components in `data.wasm`, and what existing Proofgate policies see stays as it was.

const TOKEN = '0x8f86403A4DE0BB5791fa46B8e795C547942fE4Cf';
const data = encodeFunctionData({
  abi: parseAbi(['function buy(address token, uint256 amount, uint32 slippage)']),
  args: [TOKEN, 200_000_000_000n, 2],
});

function task(extra: Record<string, unknown> = {}): IntentTask {
  return {
    intent: {
      from: '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266',
      to: '0x2222222222222222222222222222222222222222',
      value: '10000000000000000',
      data,
      chainId: 31337,
    },
    policyData: [],
    ...extra,
  } as unknown as IntentTask;
}

describe('policyInput', () => {
  it('keeps Proofgate’s intent fields and adds Newton’s, decoding the call when the task names its function', () => {
    const input = policyInput(task({ functionSignature: 'buy(address token, uint256 amount, uint32 slippage)' }));
    assert.equal(input.from, '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266');
    assert.equal(input.chainId, 31337);
    assert.equal(input.chain_id, '31337');
    assert.equal(input.value, '10000000000000000');
    assert.equal(input.decoded_function_signature, 'buy(address token, uint256 amount, uint32 slippage)');
    assert.equal(input.function_signature, stringToHex('buy(address token, uint256 amount, uint32 slippage)'));
    assert.equal(input.function?.name, 'buy');
    assert.deepEqual(
      input.function?.inputs.map((i) => `${i.type} ${i.name}`),
      ['address token', 'uint256 amount', 'uint32 slippage'],
    );
    assert.deepEqual(input.decoded_function_arguments, [TOKEN.toLowerCase(), '200000000000', 2]);
  });

  it('has Newton’s fields, empty, without a function signature or when the calldata is another call', () => {
    const none = policyInput(task());
    assert.deepEqual(
      [none.function_signature, none.function, none.decoded_function_signature, none.decoded_function_arguments],
      ['0x', null, '', []],
    );
    const other = policyInput(task({ functionSignature: 'function transfer(address to, uint256 amount)' }));
    assert.equal(other.function?.name, 'transfer');
    assert.deepEqual(other.decoded_function_arguments, []);
    assert.deepEqual(policyInput(task({ functionSignature: 'not a signature(' })).function, null);
  });
});

describe('componentInput', () => {
  it('is the task’s wasm_args, or {} as Newton passes when there are none', () => {
    assert.deepEqual(componentInput(task({ wasmArgs: { address: '0x1' } })), { address: '0x1' });
    assert.deepEqual(componentInput(task()), {});
  });
});

describe('policyDataDocument', () => {
  const modules = [{ name: 'risk' }, { name: 'vaults' }, { name: 'sanctions' }];

  it('keeps core modules under their names, as Proofgate always did', () => {
    assert.deepEqual(policyDataDocument(modules, { risk: { max: '1' }, vaults: 3, sanctions: [1] }), {
      risk: { max: '1' },
      vaults: 3,
      sanctions: [1],
    });
  });

  it('merges components’ output objects shallowly in policy order, a later key winning, as Newton’s merge does', () => {
    const consensus: Record<string, unknown> = {
      risk: { max: '1' },
      vaults: { vaultsfyi: { risk_score: 75 }, shared: 'vaults' },
      sanctions: { chainalysis: { sanctioned: false }, shared: 'sanctions' },
    };
    const kinds = { risk: 'core-module', vaults: 'component', sanctions: 'component' } as const;
    assert.deepEqual(policyDataDocument(modules, consensus, kinds), {
      risk: { max: '1' },
      vaultsfyi: { risk_score: 75 },
      chainalysis: { sanctioned: false },
      shared: 'sanctions',
    });
  });

  it('leaves out modules without a consensus value', () => {
    assert.deepEqual(policyDataDocument(modules, { vaults: { a: 1 } as unknown as Hex }, { vaults: 'component' }), { a: 1 });
  });
});
