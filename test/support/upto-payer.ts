import { x402Client } from '@x402/core/client';
import { encodePaymentSignatureHeader } from '@x402/core/http';
import type { PaymentPayload, PaymentRequirements } from '@x402/core/types';
import { PERMIT2_ADDRESS, toClientEvmSigner, uptoPermit2WitnessTypes } from '@x402/evm';
import { UptoEvmScheme } from '@x402/evm/upto/client';
import { toHex, type Address, type Hex, type LocalAccount } from 'viem';

/** The Permit2 authorization of an x402 upto payload, as the official client writes it. */
export interface UptoAuthorization {
  from: Address;
  permitted: { token: Address; amount: string };
  spender: Address;
  nonce: string;
  deadline: string;
  witness: { to: Address; facilitator: Address; validAfter: string };
}

/** What a test may bend in an upto payment: the authorization (re-signed), the signer, the chain id, the stated terms. */
export interface UptoBend {
  authorization?: (a: UptoAuthorization) => UptoAuthorization;
  signer?: LocalAccount;
  chainId?: number;
  accepted?: Partial<PaymentRequirements>;
}

/**
 * A PAYMENT-SIGNATURE header of an x402 upto payment: the official client's payload for `req`,
 * then, for the bent ones the official client would never make, the authorization changed and
 * re-signed (a real Permit2 EIP-712 signature) as a client that bends the rules would.
 * `nonce` is the authorization's Permit2 nonce as 32 bytes (what receipts sign as paymentNonce).
 */
export async function uptoPaymentHeader(payer: LocalAccount, req: PaymentRequirements, bend: UptoBend = {}): Promise<{ header: string; nonce: Hex }> {
  const client = x402Client.fromConfig({
    schemes: [{ network: req.network as `${string}:${string}`, client: new UptoEvmScheme(toClientEvmSigner(payer)) }],
    spendControls: { allowedAssets: [{ network: req.network as `${string}:${string}`, asset: req.asset }] },
  });
  const official = await client.createPaymentPayload({ x402Version: 2, resource: { url: 'https://proofgate.test/' }, accepts: [req] } as never);
  let payload: PaymentPayload = official;
  if (bend.authorization || bend.signer || bend.chainId) {
    const original = (official.payload as { permit2Authorization: UptoAuthorization }).permit2Authorization;
    const a = (bend.authorization ?? ((x) => x))(structuredClone(original));
    const signature = await (bend.signer ?? payer).signTypedData({
      domain: { name: 'Permit2', chainId: bend.chainId ?? Number(req.network.split(':')[1]), verifyingContract: PERMIT2_ADDRESS },
      types: uptoPermit2WitnessTypes,
      primaryType: 'PermitWitnessTransferFrom',
      message: {
        permitted: { token: a.permitted.token, amount: BigInt(a.permitted.amount) },
        spender: a.spender,
        nonce: BigInt(a.nonce),
        deadline: BigInt(a.deadline),
        witness: { to: a.witness.to, facilitator: a.witness.facilitator, validAfter: BigInt(a.witness.validAfter) },
      },
    });
    payload = { ...official, payload: { signature, permit2Authorization: a } };
  }
  if (bend.accepted) payload = { ...payload, accepted: { ...payload.accepted, ...bend.accepted } };
  const nonce = (payload.payload as { permit2Authorization: UptoAuthorization }).permit2Authorization.nonce;
  return { header: encodePaymentSignatureHeader(payload), nonce: toHex(BigInt(nonce), { size: 32 }) };
}
