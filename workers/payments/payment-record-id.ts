import { bytesToHex } from 'viem';

/** The public id of a payment record (`pay_…`), derived from the authorization's on-chain slot. */
export async function paymentRecordId(nonceKey: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(nonceKey)));
  return `pay_${bytesToHex(digest).slice(2, 34)}`;
}
