/** The attestation JSON document and its schema (for parsing untrusted input). */
import { z } from 'zod';
import { isAddress, type Address, type Hex } from 'viem';
import { hexBytesPattern } from '../hex';

const hexOfBytes = (bytes: number) => {
  const pattern = hexBytesPattern(bytes);
  return z.custom<Hex>((v) => typeof v === 'string' && pattern.test(v), `expected ${bytes}-byte hex`);
};
const bytes32 = hexOfBytes(32);
const address = z.custom<Address>((v) => typeof v === 'string' && isAddress(v), 'expected an address');
const anyHex = z.custom<Hex>((v) => typeof v === 'string' && /^0x([0-9a-fA-F]{2})*$/.test(v), 'expected hex bytes');
const uint256Decimal = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,77})$/, 'expected a decimal integer')
  .refine((v) => BigInt(v) < 2n ** 256n, 'exceeds uint256');
const chainId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const operatorId = z.string().min(1).max(256);

/** Schema of an Intent in JSON. */
export const intentSchema = z.object({ from: address, to: address, value: uint256Decimal, data: anyHex, chainId }).strict();

/** Schema of an attestation in JSON; `.strict()` so unknown (unsigned) fields are refused. */
export const attestationSchema = z
  .object({
    taskId: bytes32,
    policyId: bytes32,
    policyClient: address,
    chainId,
    intent: intentSchema,
    intentHash: bytes32,
    allowed: z.boolean(),
    /** Policy reasons as reported by the operators; informational, not covered by the digest. */
    reasons: z.array(z.string()),
    policyDataHash: bytes32,
    /** Unix seconds; the attestation is usable while now <= expiration. */
    expiration: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    digest: bytes32,
    /** 96-byte compressed G2 aggregate of the signers' signatures over `digest`. */
    aggregateSignature: hexOfBytes(96),
    signers: z.array(operatorId),
    nonSigners: z.array(operatorId),
    signedStake: uint256Decimal,
    totalStake: uint256Decimal,
    /** The policy's quorum in basis points of total stake; signed, and checked against the policy by every verifier. */
    thresholdBps: z.number().int().min(1).max(10_000),
    /** The OperatorRegistry contract whose snapshot judges this attestation (signed). */
    registry: address,
    /** The block of that snapshot: keys and stakes as they stood at its end (signed). */
    registryBlock: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  })
  .strict();

/** A policy attestation: the quorum's aggregate BLS signature over one task's verdict. */
export type Attestation = z.infer<typeof attestationSchema>;
