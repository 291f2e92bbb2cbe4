import { encodePaymentSignatureHeader } from '@x402/core/http';
import type { PaymentRequirements } from '@x402/core/types';
import { authorizationTypes } from '@x402/evm';
import { bytesToHex, createPublicClient, getAddress, http, parseAbi, type Address, type Hex, type LocalAccount } from 'viem';
import type { LocalStackFile } from '../../local-stack/stack-file';

/** The 402 requirements the gateway asks for a model (from its PAYMENT-REQUIRED answer). */
export async function requirementsOf(url: string, body: string): Promise<PaymentRequirements> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  if (res.status !== 402) throw new Error(`expected 402, got ${res.status}`);
  const json = (await res.json()) as { accepts: PaymentRequirements[] };
  return json.accepts[0]!;
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
