import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getAddress, type Address } from 'viem';
import { startAnvil, type AnvilInstance, type AnvilOptions } from '../chain/anvil';
import { connect } from '../chain/clients';
import { deployPermit2Stack } from '../chain/permit2';
import { deployToken, tokenAt, type DeployedToken } from '../chain/token';
import { startFacilitator, type RunningFacilitator } from './service';

/** Options of startLocalPayments. With `stateDir`, the chain, the token and balances survive restarts. */
export type LocalPaymentsOptions = Pick<AnvilOptions, 'port' | 'chainId' | 'stateDir' | 'logFile'> & { facilitatorPort?: number };

/** Everything x402 settlement needs on one machine. */
export type LocalPayments = {
  anvil: AnvilInstance;
  facilitator: RunningFacilitator;
  /** pgUSD; its `mint` is signed by the token owner, dev account 0. */
  token: DeployedToken;
  stop(): Promise<void>;
};

/**
 * Starts anvil, deploys (or, from `stateDir`, finds again) the pgUSD token, puts Permit2 and x402's
 * Permit2 proxies at their canonical addresses, and starts the facilitator. Dev account 0 owns the
 * token; dev account 1 is the facilitator, which pays settlement gas.
 */
export async function startLocalPayments(opts: LocalPaymentsOptions = {}): Promise<LocalPayments> {
  const anvil = await startAnvil(opts);
  try {
    const [owner, settler] = anvil.accounts as [AnvilInstance['accounts'][number], AnvilInstance['accounts'][number]];
    const owned = await connect(anvil.rpcUrl, owner.privateKey);
    const recordFile = opts.stateDir ? join(opts.stateDir, 'pgusd.json') : undefined;
    const found = await findDeployedToken(owned.publicClient, recordFile);
    const token = found ? tokenAt(anvil.rpcUrl, owner.privateKey, found) : await deployToken(anvil.rpcUrl, owner.privateKey);
    if (recordFile) {
      mkdirSync(opts.stateDir as string, { recursive: true });
      writeFileSync(recordFile, JSON.stringify({ address: token.address }));
    }
    // After the token: Permit2's CREATE2 transaction takes one of the owner's nonces, and the token's
    // address (a CREATE from the owner's first nonce) must stay the same on every fresh chain.
    await deployPermit2Stack(anvil.rpcUrl, owner.privateKey);
    const facilitator = await startFacilitator({
      rpcUrl: anvil.rpcUrl,
      privateKey: settler.privateKey,
      ...(opts.facilitatorPort === undefined ? {} : { port: opts.facilitatorPort }),
    });
    return {
      anvil,
      facilitator,
      token,
      stop: async () => {
        try {
          await facilitator.stop();
        } finally {
          await anvil.stop();
        }
      },
    };
  } catch (error) {
    await anvil.stop();
    throw error;
  }
}

/** The token recorded in the state folder, if the restored chain still has its code. */
async function findDeployedToken(
  client: Awaited<ReturnType<typeof connect>>['publicClient'],
  recordFile: string | undefined,
): Promise<Address | undefined> {
  if (!recordFile || !existsSync(recordFile)) return undefined;
  const { address } = JSON.parse(readFileSync(recordFile, 'utf8')) as { address: string };
  const code = await client.getCode({ address: getAddress(address) });
  return code && code !== '0x' ? getAddress(address) : undefined;
}
