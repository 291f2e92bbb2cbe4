import { privateKeyToAccount } from 'viem/accounts';
import type { Address, Hex, LocalAccount } from 'viem';
import { signDigest } from '../core/receipts';

/** Signs receipt digests with a backend's key. */
export interface ReceiptSigner {
  address: Address;
  sign(digest: Uint8Array): Promise<Hex>;
}

/** A signer holding the private key: signs with noble's secp256k1 directly (the per-call path). */
export function privateKeySigner(privateKey: Hex): ReceiptSigner {
  const address = privateKeyToAccount(privateKey).address;
  return { address, sign: async (digest) => signDigest(digest, privateKey) };
}

/** A signer for any viem local account (slower; for accounts whose key is not at hand). */
export function accountSigner(account: LocalAccount): ReceiptSigner {
  const sign = account.sign;
  if (!sign) throw new Error('this account cannot sign raw digests');
  return { address: account.address, sign: (digest) => sign({ hash: `0x${Buffer.from(digest).toString('hex')}` as Hex }) };
}
