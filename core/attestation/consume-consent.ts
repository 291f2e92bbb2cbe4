/**
 * Spending an attestation off chain (`POST /v1/attestations/consume`) is an act of its relying
 * party, the attestation's policy client: it proves control of that address with an EIP-712
 * signature over the attestation's digest and a fresh time, so nobody else can burn the attestation.
 * Any Ethereum wallet or library signs it; a contract policy client consumes on chain instead
 * (AttestationValidator.consume is callable only by the policy client).
 */
import { recoverTypedDataAddress, type Address, type Hex } from 'viem';

/** How far (s) a consent's issuedAt may be from the verifier's clock. */
export const CONSUME_CONSENT_MAX_SKEW_S = 300;

/** EIP-712 types of a consume consent. */
export const CONSUME_CONSENT_TYPES = {
  AttestationConsumption: [
    { name: 'digest', type: 'bytes32' },
    { name: 'issuedAt', type: 'uint64' },
  ],
} as const;

/** The policy client's consent to spend one attestation, as sent with the consume request. */
export type ConsumeConsent = { issuedAt: number; signature: Hex };

/**
 * The EIP-712 typed data a policy client signs (domain `{name: "Proofgate", version: "1", chainId}`
 * with the attestation's chain), e.g. `account.signTypedData(consumeConsentTypedData(…))` in viem.
 */
export function consumeConsentTypedData(digest: Hex, chainId: number, issuedAt: number) {
  return {
    domain: { name: 'Proofgate', version: '1', chainId },
    types: CONSUME_CONSENT_TYPES,
    primaryType: 'AttestationConsumption',
    message: { digest, issuedAt: BigInt(issuedAt) },
  } as const;
}

/** Who signed a consume consent for `digest` on `chainId`, or null when the signature does not recover. */
export async function consumeConsentSigner(digest: Hex, chainId: number, consent: ConsumeConsent): Promise<Address | null> {
  try {
    return await recoverTypedDataAddress({
      ...consumeConsentTypedData(digest, chainId, consent.issuedAt),
      signature: consent.signature,
    });
  } catch {
    return null;
  }
}
