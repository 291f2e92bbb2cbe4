import { bytesToHex, hexToBytes, type Hex } from 'viem';
import type { Attestation } from '../../core/attestation';

/**
 * One change to each part of an intent attestation a verifier must hold it to: every signed field,
 * a byte of the aggregate signature, and the signer list. Each must make the attestation invalid.
 */
export const ATTESTATION_TAMPERINGS: readonly (readonly [string, (a: Attestation) => Attestation])[] = [
  ['the PolicyData hash', (a) => ({ ...a, policyDataHash: `0x${'00'.repeat(32)}` as Hex })],
  ['the verdict', (a) => ({ ...a, allowed: !a.allowed })],
  ['the chain', (a) => ({ ...a, chainId: 1, intent: { ...a.intent, chainId: 1 } })],
  ['the policy', (a) => ({ ...a, policyId: `0x${'cd'.repeat(32)}` as Hex })],
  ['the expiration', (a) => ({ ...a, expiration: a.expiration - 1 })],
  ['the threshold', (a) => ({ ...a, thresholdBps: 5000 })],
  ['the registry block', (a) => ({ ...a, registryBlock: a.registryBlock - 1 })],
  [
    'a signature byte',
    (a) => {
      const sig = hexToBytes(a.aggregateSignature);
      sig[47] = sig[47]! ^ 0x01;
      return { ...a, aggregateSignature: bytesToHex(sig) };
    },
  ],
  ['the signer list', (a) => ({ ...a, signers: a.signers.slice(1), nonSigners: [...a.nonSigners, a.signers[0]!] })],
];
