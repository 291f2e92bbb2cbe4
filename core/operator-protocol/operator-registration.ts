/** How an operator registers its BLS key at the gateway: ids and the message its key signs. */
import { keccak256, type Address, type Hex } from 'viem';

/** Stable operator id: letters, digits, `.`, `_`, `-`. */
export const OPERATOR_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The default id of an operator that names none: derived from its key, so it is stable. */
export function defaultOperatorId(blsPublicKey: Hex): string {
  return `op-${keccak256(blsPublicKey).slice(2, 18)}`;
}

/** The fields an operator's registration signature covers. */
export type OperatorRegistrationFields = { id: string; url: string; address: Address | null; issuedAt: number };

/** How far (s) a registration's issuedAt may be from the gateway's clock. */
export const REGISTRATION_MAX_SKEW_S = 300;

/**
 * The message an operator BLS-signs to register or re-register (besides its proof of possession,
 * which is public once registered): binding id, URL and time makes a captured registration useless.
 */
export function operatorRegistrationMessage(fields: OperatorRegistrationFields): Uint8Array {
  return new TextEncoder().encode(
    ['proofgate-operator-registration-v1', fields.id, fields.url, fields.address?.toLowerCase() ?? '', String(fields.issuedAt)].join('\n'),
  );
}
