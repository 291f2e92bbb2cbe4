/**
 * Zod schemas of the gateway's answers, for the OpenAPI description only (requests are described by
 * the very schemas that validate them, read from the route table). Loose where an answer carries
 * data the gateway passes through (policy params, PolicyData values).
 */
import { z } from 'zod';

const hex32 = z.string().regex(/^0x[0-9a-f]{64}$/);
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/);
const units = z
  .string()
  .regex(/^(0|[1-9][0-9]*)$/)
  .describe('atomic units of the payment token, decimal');
const tensorType = z.enum(['float32', 'float16', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'bool']);

/** `{"error": {"code", "message", …}}`: every error answer. */
export const errorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }).passthrough() });

/** A declared input or output of a model. */
export const tensorSpec = z.object({ name: z.string(), type: tensorType, dims: z.array(z.number().int().nullable()).nullable() });

/** A tensor in JSON: `data` flat and row-major; 64-bit integers beyond 2^53 and special floats as strings. */
export const jsonTensor = z.object({
  type: tensorType,
  dims: z.array(z.number().int()),
  data: z.array(z.union([z.number(), z.string(), z.boolean()])),
});

/** How a version is priced: a fixed price, or metered by backend run time (price is then its cap). */
const pricing = {
  price: units.describe('the price of a call; for a metered model, its cap'),
  settlement: z.enum(['sync', 'async']),
  pricing: z.enum(['fixed', 'metered']).describe('metered: min(price, base + ratePerMs × run ms), paid with x402 upto'),
  ratePerMs: units.describe('a metered call\'s price per millisecond of backend run time ("0" when fixed)'),
  base: units.describe('a metered call\'s price before its run time ("0" when fixed)'),
  quorum: z
    .object({ thresholdBps: z.number().int(), tolerance: z.object({ absolute: z.number(), relative: z.number() }) })
    .describe('quorum inference terms (mode=quorum)'),
};

/** One model version. */
export const modelVersion = z.object({
  name: z.string(),
  version: z.number().int(),
  sha256: hex32,
  size: z.number().int(),
  inputs: z.array(tensorSpec),
  outputs: z.array(tensorSpec),
  ...pricing,
  createdAt: z.string(),
});

/** A model as the listing shows it: its latest version. */
export const modelSummary = z.object({
  name: z.string(),
  latestVersion: z.number().int(),
  sha256: hex32,
  size: z.number().int(),
  ...pricing,
  inputs: z.array(tensorSpec),
  outputs: z.array(tensorSpec),
});

/**
 * A signed inference receipt (EIP-712, domain Proofgate/1): `InferenceReceiptV2` when it carries
 * `charged` (and then every v2 field; every call through the gateway gets one), else `InferenceReceipt`.
 */
export const receipt = z.object({
  requestId: hex32,
  modelSha256: hex32,
  inputHash: hex32,
  outputHash: hex32,
  backend: address,
  executionProvider: z.string(),
  issuedAt: z.number().int(),
  policyId: hex32.optional().describe('v2: the admission policy that admitted the call; zero when none'),
  runMs: z.number().int().optional().describe('v2: the backend run time billed, whole ms rounded up'),
  priceBase: units.optional().describe('v2: the pricing terms {base, ratePerMs, cap}; a fixed price P is {P, 0, P}'),
  pricePerMs: units.optional(),
  priceCap: units.optional(),
  charged: units.optional().describe('v2: min(priceCap, priceBase + pricePerMs × runMs): what the payer is charged'),
  paymentScheme: z.enum(['', 'exact', 'upto']).optional().describe('v2: "" when unpaid'),
  paymentNetwork: z.string().optional().describe('v2: CAIP-2, e.g. eip155:8453; "" when unpaid'),
  paymentAsset: address.optional(),
  payer: address.optional(),
  paymentNonce: hex32.optional().describe("v2: the payment authorization's nonce; zero when unpaid"),
  model: z.string(),
  version: z.number().int(),
  timings: z.object({ queueMs: z.number(), runMs: z.number(), totalMs: z.number() }).describe('unsigned'),
  signature: z.string(),
});

/** A paid reply's `payment`: the record of the payment that bought it. */
export const replyPayment = z.object({
  id: z.string(),
  scheme: z.enum(['exact', 'upto']),
  state: z.enum(['pending', 'settled']),
  maxAmount: units.describe('what the payment authorizes'),
  charged: units.nullable().describe("what was charged: the receipt's charged"),
  transaction: z.string().nullable(),
});

/** The answer of an inference call in JSON. */
export const inferenceReply = z.object({
  model: z.object({ name: z.string(), version: z.number().int(), sha256: hex32 }),
  outputs: z.record(jsonTensor),
  receipt,
  payment: replyPayment.optional().describe('on paid calls'),
});

/** A backend and its health. */
export const backend = z.object({
  id: z.string(),
  address,
  url: z.string().optional(),
  executionProvider: z.string(),
  models: z.union([z.literal('*'), z.array(hex32)]),
  status: z.string(),
  healthy: z.boolean(),
  inFlight: z.number().int(),
  registeredAt: z.string(),
});

/** An operator: a member of the OperatorRegistry on chain (its stake), and its signer node at the gateway. */
export const operator = z.object({
  id: z.string(),
  blsPublicKey: z.string(),
  stake: z.string().describe('at the listed registry block; "0": not a member'),
  node: z
    .object({
      proofOfPossession: z.string(),
      address: address.nullable(),
      url: z.string().optional().describe('admins only'),
      registeredAt: z.string(),
    })
    .nullable(),
});

/** `GET /v1/operators`: the registry block listed, and the operators. */
export const operatorSet = z.object({
  registry: z.object({ address, blockNumber: z.number().int() }).nullable().describe('null where the gateway has no registry configured'),
  operators: z.array(operator),
});

/** An intent attestation: the quorum's aggregate BLS signature over one task's verdict. */
export const attestation = z
  .object({
    taskId: hex32,
    policyId: hex32,
    policyClient: address,
    chainId: z.number().int(),
    intentHash: hex32,
    allowed: z.boolean(),
    reasons: z.array(z.string()),
    policyDataHash: hex32,
    expiration: z.number().int(),
    digest: hex32,
    aggregateSignature: z.string(),
    signers: z.array(z.string()),
    nonSigners: z.array(z.string()),
    signedStake: z.string(),
    totalStake: z.string(),
    thresholdBps: z.number().int().describe("the policy's quorum (signed); verifiers judge by the policy's own"),
    registry: address.describe('the OperatorRegistry whose snapshot judges the attestation (signed)'),
    registryBlock: z.number().int().describe('the block of that snapshot (signed)'),
  })
  .passthrough();

/** A task: one intent under one policy. */
export const task = z
  .object({
    taskId: hex32,
    status: z.enum(['collecting_policy_data', 'signing', 'completed', 'failed']),
    policyId: hex32,
    policyClient: address,
    chainId: z.number().int(),
    thresholdBps: z.number().int(),
    registry: address,
    registryBlock: z.number().int(),
    totalStake: z.string(),
    signers: z.array(z.string()),
    nonSigners: z.array(z.string()),
    attestation: attestation.nullable(),
    failure: z.object({ code: z.string(), message: z.string() }).nullable(),
  })
  .passthrough();

/** A task as the recent-task listing shows it. */
export const listedTask = z.object({
  taskId: hex32,
  policyId: hex32,
  chainId: z.number().int(),
  status: z.string().nullable(),
  allowed: z.boolean().nullable(),
  registry: address.nullable(),
  registryBlock: z.number().int().nullable(),
  createdAt: z.string(),
});

/** A stored policy. */
export const policy = z
  .object({
    id: hex32,
    modules: z.record(z.string()),
    entrypoint: z.string(),
    params: z.unknown(),
    policyData: z.array(z.object({ name: z.string(), sha256: hex32 })),
    thresholdBps: z.number().int().describe('stake quorum of intents under it, in basis points'),
  })
  .passthrough();

/** A payment record. */
export const payment = z
  .object({
    id: z.string(),
    state: z.enum(['reserved', 'settling', 'pending', 'settled', 'released', 'failed']),
    scheme: z.enum(['exact', 'upto']),
    network: z.string(),
    asset: address,
    payer: address,
    payTo: address,
    amount: units.describe('authorized (upto: the most it may charge)'),
    charged: units.nullable(),
    transaction: z.string().nullable(),
    error: z.string().nullable().describe('a reason code or a fixed sentence'),
  })
  .passthrough();

/** `POST /v1/attestations/consume`'s answer. */
export const consumed = z.object({ consumed: z.literal(true), digest: hex32, consumedAt: z.string() });

/** `{valid, reasons}`: a verification verdict. */
export const verdict = z.object({ valid: z.boolean(), reasons: z.array(z.string()) });

/** Any JSON object (answers the description does not detail). */
export const anyObject = z.object({}).passthrough();
