import { encodePaymentSignatureHeader } from '@x402/core/http';
import type { PaymentRequirements } from '@x402/core/types';
import { authorizationTypes } from '@x402/evm';
import { bytesToHex, createPublicClient, getAddress, http, parseAbi, type Address, type Hex, type LocalAccount } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { anvilDevAccounts } from '../../chain/anvil';
import { connect } from '../../chain/clients';
import { tokenAt } from '../../chain/token';
import { paidFetch } from '../../sdk/src/paid-fetch';
import { approvePermit2 } from '../../local-stack/launch';
import type { LocalStackFile } from '../../local-stack/stack-file';

/** The 402 requirements of `scheme` the gateway asks for a model (from its PAYMENT-REQUIRED answer). */
export async function requirementsOf(url: string, body: string, scheme: 'exact' | 'upto' = 'exact'): Promise<PaymentRequirements> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  if (res.status !== 402) throw new Error(`expected 402, got ${res.status}`);
  const json = (await res.json()) as { accepts: PaymentRequirements[] };
  const requirements = json.accepts.find((r) => r.scheme === scheme);
  if (!requirements) throw new Error(`the gateway offers no ${scheme} payment`);
  return requirements;
}

/** Fields of an EIP-3009 authorization a test may bend. */
export interface AuthorizationOverrides {
  to?: Address;
  value?: bigint;
  validAfter?: bigint;
  validBefore?: bigint;
  nonce?: Hex;
  chainId?: number;
  verifyingContract?: Address;
  signer?: LocalAccount;
}

/**
 * Builds a PAYMENT-SIGNATURE header by hand (the official client would refuse to sign the bad ones
 * these tests need): a real EIP-712 TransferWithAuthorization signature over the given fields.
 */
export async function paymentHeader(
  payer: LocalAccount,
  req: PaymentRequirements,
  o: AuthorizationOverrides = {},
  accepted: Partial<PaymentRequirements> = {},
): Promise<{ header: string; nonce: Hex }> {
  const now = BigInt(Math.floor(Date.now() / 1000));
  const authorization = {
    from: payer.address,
    to: o.to ?? getAddress(req.payTo),
    value: o.value ?? BigInt(req.amount),
    validAfter: o.validAfter ?? now - 60n,
    validBefore: o.validBefore ?? now + 600n,
    nonce: o.nonce ?? bytesToHex(crypto.getRandomValues(new Uint8Array(32))),
  };
  const chainId = o.chainId ?? Number(req.network.split(':')[1]);
  const extra = req.extra as { name: string; version: string };
  const signature = await (o.signer ?? payer).signTypedData({
    domain: { name: extra.name, version: extra.version, chainId, verifyingContract: o.verifyingContract ?? getAddress(req.asset) },
    types: authorizationTypes,
    primaryType: 'TransferWithAuthorization',
    message: authorization,
  });
  const payload = {
    x402Version: 2,
    accepted: { ...req, ...accepted },
    payload: {
      signature,
      authorization: {
        ...authorization,
        value: authorization.value.toString(),
        validAfter: authorization.validAfter.toString(),
        validBefore: authorization.validBefore.toString(),
      },
    },
  };
  return { header: encodePaymentSignatureHeader(payload as never), nonce: authorization.nonce };
}

/** pgUSD balances on the stack's chain. */
export function balances(stack: LocalStackFile): (address: string) => Promise<bigint> {
  const chain = stack.chain!;
  const client = createPublicClient({ transport: http(chain.rpc) });
  const abi = parseAbi(['function balanceOf(address) view returns (uint256)']);
  return (address) => client.readContract({ address: chain.token as Address, abi, functionName: 'balanceOf', args: [address as Address] });
}

/**
 * A fresh payer holding `amount` pgUSD (minted by the token's owner, anvil's dev account 0), and, if
 * asked, having approved Permit2 for it: a payer whose ledger and rows start empty.
 */
export async function fundedPayer(stack: LocalStackFile, amount: bigint, opts: { approvePermit2?: boolean } = {}): Promise<LocalAccount> {
  const chain = stack.chain!;
  const key = generatePrivateKey();
  const account = privateKeyToAccount(key);
  const owner = anvilDevAccounts(1)[0]!;
  if (amount > 0n) await tokenAt(chain.rpc, owner.privateKey, chain.token as Hex).mint(account.address, amount);
  if (opts.approvePermit2) {
    // The payer needs gas for its one approve transaction.
    const funder = await connect(chain.rpc, owner.privateKey);
    const hash = await funder.walletClient.sendTransaction({ to: account.address, value: 10n ** 17n });
    await funder.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 });
    await approvePermit2(chain.rpc, key, chain.token as Hex);
  }
  return account;
}

/** The same EIP-3009 payment as `paymentHeader`, in the legacy x402 v1 `X-PAYMENT` form. */
export async function legacyPaymentHeader(
  payer: LocalAccount,
  req: PaymentRequirements,
  o: AuthorizationOverrides = {},
): Promise<{ header: string; nonce: Hex }> {
  const { header, nonce } = await paymentHeader(payer, req, o);
  const v2 = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as { payload: unknown };
  const v1 = { x402Version: 1, scheme: 'exact', network: req.network, payload: v2.payload };
  return { header: Buffer.from(JSON.stringify(v1)).toString('base64'), nonce };
}

/** The official x402 client paying with `scheme`, for the stack's network and token. */
export function officialClient(
  stack: LocalStackFile,
  payer: LocalAccount,
  opts: { scheme?: 'exact' | 'upto'; paymentId?: string } = {},
): typeof fetch {
  return paidFetch(payer, { network: `eip155:${stack.chain!.chainId}`, asset: stack.chain!.token as Address, ...opts });
}
