import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createPublicClient, http, parseAbi } from 'viem';
import { AnvilStartError, startAnvil, type AnvilInstance } from '../../../chain/anvil';
import { DeployError, deployContract } from '../../../chain/deploy';
import { proofgateDir } from '../../../chain/repo-paths';
import { compileContract, SolcCompileError } from '../../../chain/solc';

const fixtures = join(import.meta.dirname, 'fixtures');

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('solc', () => {
  it('compiles a contract with a relative import and caches the result by content', () => {
    const first = compileContract(join(fixtures, 'Greeter.sol'), 'Greeter');
    assert.match(first.bytecode, /^0x[0-9a-f]{200,}$/);
    assert.ok(first.abi.some((item) => item.type === 'function' && item.name === 'greeting'));
    const cached = readdirSync(join(proofgateDir, 'cache', 'solc'));
    assert.deepEqual(compileContract(join(fixtures, 'Greeter.sol'), 'Greeter'), first);
    assert.deepEqual(readdirSync(join(proofgateDir, 'cache', 'solc')), cached, 'a second compile is served from the cache');
  });

  it('throws SolcCompileError with the compiler messages', () => {
    assert.throws(
      () => compileContract(join(fixtures, 'Broken.sol'), 'Broken'),
      (error: unknown) =>
        error instanceof SolcCompileError &&
        error.code === 'solc_compile_failed' &&
        ((error.details?.messages as string[] | undefined) ?? []).some((m) => m.includes('undefinedThing')),
    );
  });
});

describe('anvil + deploy', () => {
  let anvil: AnvilInstance;
  before(async () => {
    anvil = await startAnvil({ chainId: 31338 });
  });
  after(async () => {
    await anvil?.stop();
  });

  it('answers on its chain id with the dev accounts anvil funds', async () => {
    const client = createPublicClient({ transport: http(anvil.rpcUrl) });
    assert.equal(await client.getChainId(), 31338);
    const rpcAccounts = (await client.request({ method: 'eth_accounts' } as never)) as string[];
    assert.deepEqual(
      rpcAccounts.map((a) => a.toLowerCase()),
      anvil.accounts.map((a) => a.address.toLowerCase()),
    );
    assert.equal(anvil.accounts[0]!.address, '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266');
    assert.ok((await client.getBalance({ address: anvil.accounts[9]!.address })) > 0n);
  });

  it('deploys with constructor args', async () => {
    const artifact = compileContract(join(fixtures, 'Greeter.sol'), 'Greeter');
    const key = anvil.accounts[0]!.privateKey;
    const address = await deployContract(anvil.rpcUrl, key, artifact, ['proofgate', false]);
    const client = createPublicClient({ transport: http(anvil.rpcUrl) });
    const greeting = await client.readContract({ address, abi: parseAbi(['function greeting() view returns (string)']), functionName: 'greeting' });
    assert.equal(greeting, 'hello, proofgate');
  });

  it('fails loudly on a reverting constructor', async () => {
    const artifact = compileContract(join(fixtures, 'Greeter.sol'), 'Greeter');
    const key = anvil.accounts[0]!.privateKey;
    await assert.rejects(
      deployContract(anvil.rpcUrl, key, artifact, ['x', true]),
      (e: unknown) => e instanceof DeployError || (e as Error).message.includes('asked to fail'),
    );
  });

  it('refuses an explicit port that is already taken', async () => {
    const port = Number(new URL(anvil.rpcUrl).port);
    await assert.rejects(startAnvil({ port, chainId: 31338 }), (e: unknown) => e instanceof AnvilStartError && e.code === 'anvil_start_failed');
  });

  it('keeps chain state across restarts when given a state dir', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'pg-anvil-state-'));
    try {
      const first = await startAnvil({ stateDir });
      const address = await deployContract(first.rpcUrl, first.accounts[0]!.privateKey, compileContract(join(fixtures, 'Greeter.sol'), 'Greeter'), [
        'state',
        false,
      ]);
      await first.stop();
      const second = await startAnvil({ stateDir });
      try {
        const code = await createPublicClient({ transport: http(second.rpcUrl) }).getCode({ address });
        assert.ok(code && code.length > 2, 'the contract survived the restart');
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('stop() ends the process and is idempotent', async () => {
    const other = await startAnvil({ logFile: 'anvil-toolchain-test.log' });
    assert.ok(isAlive(other.pid));
    await other.stop();
    assert.equal(isAlive(other.pid), false);
    await other.stop();
    assert.ok(existsSync(join(proofgateDir, 'logs', 'anvil-toolchain-test.log')));
  });
});
