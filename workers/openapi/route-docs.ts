/**
 * What the route table cannot say about each route: a summary, query parameters and answers. Keyed
 * by `METHOD path` exactly as workers/index.ts declares the route; a route without an entry fails
 * test/integration/openapi.test.ts, so adding a route means adding its line here.
 */
import { z } from 'zod';
import { KSERVE_ROUTE_DOCS } from './kserve-route-docs';
import * as r from './response-schemas';

/** One documented answer: a JSON schema, or another media type. */
export interface ResponseDoc {
  description: string;
  schema?: z.ZodTypeAny;
  mediaType?: string;
}

/** The description of one route. */
export interface RouteDoc {
  summary: string;
  tag: string;
  description?: string;
  query?: Record<string, { schema: z.ZodTypeAny; description: string }>;
  /** The body of a route whose handler reads it itself (streamed, or in more than one form), by media type. */
  body?: Record<string, z.ZodTypeAny | null>;
  responses: Record<number, ResponseDoc>;
}

const TENSORS = 'application/vnd.proofgate.tensors';
const limit = { schema: z.number().int().min(1).max(100).optional(), description: 'how many, newest first (default 20)' };
const ok = (description: string, schema: z.ZodTypeAny = r.anyObject): ResponseDoc => ({ description, schema });
const list = (key: string, item: z.ZodTypeAny) => z.object({ [key]: z.array(item) });
const units = (description: string) => ({
  schema: z
    .string()
    .regex(/^(0|[1-9][0-9]*)$/)
    .optional(),
  description,
});

/** The terms a model version is published with (workers/hub/model-store.ts checkPublishTerms, quorum-terms.ts). */
const PUBLISH_QUERY: NonNullable<RouteDoc['query']> = {
  price: units("fixed price per call in the payment token's smallest units (default 0: free)"),
  pricing: {
    schema: z.enum(['fixed', 'metered']).optional(),
    description: 'metered: charged by backend run time, paid with x402 upto (default fixed)',
  },
  ratePerMs: units('metered: price per millisecond of backend run time (above 0)'),
  base: units('metered: price before the run time (default 0)'),
  cap: units('metered: most one call costs (above 0, at least base); the amount an upto payment authorizes'),
  settlement: { schema: z.enum(['sync', 'async']).optional(), description: 'settle before answering (sync, default) or after' },
  quorumBps: {
    schema: z.number().int().min(1).max(10_000).optional(),
    description: 'mode=quorum: the share of operator stake an attestation of its outputs needs (default 6700)',
  },
  absTolerance: { schema: z.number().min(0).optional(), description: "mode=quorum: how far operators' float outputs may differ (default 0)" },
  relTolerance: { schema: z.number().min(0).optional(), description: 'mode=quorum: the relative bound of that difference (default 0)' },
};
const PUBLISH_ERRORS: Record<number, ResponseDoc> = {
  400: ok('not an ONNX model, or bad terms (invalid_pricing: a price with metered terms, a rate of 0, a cap below base)', r.errorBody),
  413: ok('larger than one request (or this gateway) takes: use the multipart upload', r.errorBody),
};

/** Route descriptions by `METHOD path`. */
export const ROUTE_DOCS: Readonly<Record<string, RouteDoc>> = {
  'GET /': {
    summary: 'The explorer for browsers (Accept: text/html); every route for API clients',
    tag: 'gateway',
    responses: { 200: ok('`{name, endpoints}`, or the explorer page', z.object({ name: z.string(), endpoints: z.array(z.string()) })) },
  },
  'GET /healthz': {
    summary: 'Ready once the database answers with the schema applied',
    tag: 'gateway',
    responses: { 200: ok('ready'), 503: ok('not ready') },
  },
  'GET /openapi.json': { summary: 'This description (OpenAPI 3.1)', tag: 'gateway', responses: { 200: ok('the OpenAPI document') } },
  'GET /receipts/:requestId': {
    summary: "The explorer's page of a receipt, verified in the browser",
    tag: 'explorer',
    responses: { 200: { description: 'an HTML page', mediaType: 'text/html' } },
  },
  'GET /v1/models': {
    summary: 'The latest version of every model, with its pricing',
    tag: 'models',
    responses: { 200: ok('models', list('models', r.modelSummary)) },
  },
  'GET /v1/models/:name': {
    summary: 'Every version of a model, newest first',
    tag: 'models',
    responses: { 200: ok('versions', z.object({ name: z.string(), versions: z.array(r.modelVersion) })) },
  },
  'POST /v1/models/:name/versions': {
    summary: 'Publish ONNX bytes as the next version (admin)',
    tag: 'models',
    body: { 'application/octet-stream': null },
    description:
      'Fixed (`?price=N`) or metered (`?pricing=metered&ratePerMs=R&base=B&cap=C`) pricing, not both. Identical bytes and terms again answer 200 with the existing version and `created: false`. Larger models go as a multipart upload (`POST /v1/models/{name}/uploads`).',
    query: PUBLISH_QUERY,
    responses: {
      201: ok('published', r.modelVersion.extend({ created: z.boolean() })),
      200: ok('already published', r.modelVersion.extend({ created: z.boolean() })),
      ...PUBLISH_ERRORS,
    },
  },
  'POST /v1/models/:name/uploads': {
    summary: 'Start a multipart upload for a model larger than one request may carry (admin)',
    tag: 'models',
    responses: {
      201: ok(
        'the upload id and part limits: every part but the last has the same size, from minPartBytes to maxPartBytes',
        z.object({
          uploadId: z.string(),
          partBytes: z.number().int().describe('the suggested part size'),
          minPartBytes: z.number().int(),
          maxPartBytes: z.number().int(),
          maxParts: z.number().int(),
          maxBytes: z.number().int().describe('the largest model this gateway takes'),
        }),
      ),
    },
  },
  'PUT /v1/models/:name/uploads/:uploadId/parts/:partNumber': {
    summary: 'Upload one part (admin); every part but the last has the same size',
    tag: 'models',
    body: { 'application/octet-stream': null },
    responses: {
      200: ok('the part and its etag', z.object({ partNumber: z.number().int(), etag: z.string() })),
      400: ok('a part number out of range, or a body without Content-Length', r.errorBody),
      413: ok('a part above maxPartBytes', r.errorBody),
    },
  },
  'POST /v1/models/:name/uploads/:uploadId/complete': {
    summary: 'Assemble the parts and publish them as the next version (admin)',
    tag: 'models',
    description: 'Body: `{"parts": [{partNumber, etag}]}` as the part uploads answered. Takes the same terms as a single-request publish.',
    query: PUBLISH_QUERY,
    responses: {
      201: ok('published', r.modelVersion.extend({ created: z.boolean() })),
      200: ok('already published', r.modelVersion.extend({ created: z.boolean() })),
      ...PUBLISH_ERRORS,
    },
  },
  'DELETE /v1/models/:name/uploads/:uploadId': {
    summary: 'Abandon a multipart upload and drop its parts (admin)',
    tag: 'models',
    responses: { 204: { description: 'dropped' } },
  },
  'POST /v1/models/:name/infer': {
    summary: 'Run a model: outputs with a signed receipt; priced models are paid with x402',
    tag: 'inference',
    body: { 'application/json': z.object({ inputs: z.record(r.jsonTensor) }), [TENSORS]: null },
    description: `Body: \`{"inputs": {name: {type, dims, data}}}\` (JSON) or the canonical tensor encoding (\`${TENSORS}\`; with that Accept the reply is binary, receipt, model and payment in headers). Every reply carries an InferenceReceiptV2 receipt. A priced model answers 402 with PAYMENT-REQUIRED until a PAYMENT-SIGNATURE pays it: \`exact\` (and \`upto\` where offered) for a fixed price, \`upto\` only for a metered model (its cap authorized, the receipt's \`charged\` settled). A payment authorization used before is refused (402 payment_already_used); when it bought this very request, the message names GET /v1/payments/{id}/result, where its answer waits.`,
    query: {
      version: { schema: z.number().int().min(1).optional(), description: 'model version (default: the latest)' },
      mode: {
        schema: z.string().optional(),
        description:
          "quorum: k backends of k distinct operators, answered with their stake quorum's attestation (docs/quorum-inference.md); tee, zkml: 501",
      },
      k: { schema: z.number().int().min(2).max(16).optional(), description: 'distinct operators for mode=quorum (default 2)' },
    },
    responses: {
      200: ok('outputs, receipt and payment', r.inferenceReply),
      400: ok('inputs do not fit the model', r.errorBody),
      402: ok('payment required or refused: x402 PaymentRequired with the reason code in `error` and a `message`'),
      403: ok('denied by the admission policy', r.errorBody),
      409: ok('payment_in_progress (the same authorization is paying a call now), payment_identifier_conflict', r.errorBody),
      501: ok('mode=tee or mode=zkml: no backend can honour it', r.errorBody),
      502: ok('the backends failed, or (mode=quorum) the operators disagreed: quorum_disagreement, with the evidence URL', r.errorBody),
      503: ok('no healthy backend, or (mode=quorum) not_enough_operators / quorum_unreachable', r.errorBody),
    },
  },
  'GET /v1/inference-quorums/:requestId': {
    summary: "A quorum inference request's evidence: every receipt and output hash, who agreed and signed, the attestation",
    tag: 'inference',
    responses: { 200: ok('the evidence', r.anyObject), 404: ok('no such request', r.errorBody) },
  },
  'GET /v1/blobs/:sha256': {
    summary: 'Model bytes by content hash',
    tag: 'models',
    responses: { 200: { description: 'the ONNX bytes', mediaType: 'application/octet-stream' }, 404: ok('unknown hash', r.errorBody) },
  },
  'GET /v1/receipts': {
    summary: 'The most recent receipts, newest first',
    tag: 'receipts',
    query: { limit, model: { schema: z.string().optional(), description: 'only receipts of this model' } },
    responses: { 200: ok('receipts', list('receipts', r.receipt.extend({ createdAt: z.string() }))) },
  },
  'GET /v1/receipts/:requestId': {
    summary: 'A stored, verified receipt (version 2: policy, run time, pricing, charge, payment)',
    tag: 'receipts',
    responses: { 200: ok('the receipt', r.receipt), 404: ok('no such receipt', r.errorBody) },
  },
  'GET /v1/payments/:id': {
    summary: "A payment's state, charge and transaction",
    tag: 'payments',
    responses: {
      200: ok('the payment', r.payment),
      400: ok('not a payment id (pay_ + 32 hex digits)', r.errorBody),
      404: ok('no such payment', r.errorBody),
    },
  },
  'GET /v1/payments/:id/result': {
    summary: 'The answer a used payment bought, again, for whoever presents its payment authorization (PAYMENT-SIGNATURE or X-PAYMENT)',
    tag: 'payments',
    responses: {
      200: ok('the paid answer (JSON, with its payment), header proofgate-replayed: true; never charged again', r.inferenceReply),
      400: ok('a malformed payment header, or not a payment id', r.errorBody),
      401: ok('payment_proof_required: no payment header', r.errorBody),
      404: ok('payment_result_not_found: no delivered result of this payment for this authorization', r.errorBody),
    },
  },
  'PUT /v1/models/:name/policy': { summary: 'Bind an admission policy to a model (admin)', tag: 'policies', responses: { 200: ok('bound') } },
  'DELETE /v1/models/:name/policy': { summary: "Remove a model's admission policy (admin)", tag: 'policies', responses: { 200: ok('removed') } },
  'POST /v1/policies': {
    summary: 'Create a Rego policy (admin); its id is its content hash',
    tag: 'policies',
    responses: { 201: ok('created', r.policy), 200: ok('already stored', r.policy), 400: ok('invalid Rego (file:row:col)', r.errorBody) },
  },
  'GET /v1/policies/:id': { summary: 'A stored policy', tag: 'policies', responses: { 200: ok('the policy', r.policy) } },
  'POST /v1/policies/:id/evaluate': {
    summary: 'Evaluate a rule of a policy in the gateway (admin dry run)',
    tag: 'policies',
    responses: { 200: ok('the value', z.object({ rule: z.string(), defined: z.boolean(), value: z.unknown().optional() })) },
  },
  'POST /v1/api-keys': {
    summary: 'Create an API key (admin); the key is shown once',
    tag: 'policies',
    responses: { 201: ok('the key', z.object({ id: z.string(), key: z.string(), label: z.string() })) },
  },
  'POST /v1/intents': {
    summary: "Submit an intent under a policy: the registry snapshot of the latest block decides it, with the policy's quorum",
    tag: 'intents',
    description: 'Without an API key (`Authorization: Bearer pgk_…`) each caller may submit a limited number of intents per minute.',
    responses: {
      200: ok('the completed or failed task', r.task),
      202: ok('the task, still running', r.task),
      400: ok("invalid_request, unsupported_chain (an intent for another chain than the registry's)", r.errorBody),
      401: ok('an unknown API key', r.errorBody),
      404: ok('policy_not_found', r.errorBody),
      422: ok('policy_data_missing', r.errorBody),
      429: ok('rate_limited: too many intents from this caller without an API key (Retry-After)', r.errorBody),
      503: ok('no_operators, registry_unavailable', r.errorBody),
    },
  },
  'GET /v1/tasks': {
    summary: 'The most recent tasks, newest first',
    tag: 'intents',
    query: { limit },
    responses: { 200: ok('tasks', list('tasks', r.listedTask)) },
  },
  'GET /v1/tasks/:taskId': {
    summary: "A task's status, signers and attestation",
    tag: 'intents',
    responses: { 200: ok('the task', r.task), 404: ok('no such task', r.errorBody) },
  },
  'POST /v1/attestations/verify': {
    summary: "Verify an attestation against the registry snapshot it names (read from chain), its policy's quorum and the single-use ledger",
    tag: 'attestations',
    description:
      "Reasons are core verifyAttestation's (e.g. threshold_mismatch, insufficient_stake, invalid_signature, expired, already_consumed) and unknown_policy, unknown_registry_snapshot. An inference attestation (mode=quorum) is judged by its own rules.",
    responses: { 200: ok('the verdict', r.verdict) },
  },
  'POST /v1/attestations/consume': {
    summary: "Use an attestation once, for its policy client: its EIP-712 consent, then the attestation's verification",
    tag: 'attestations',
    description:
      'The body adds `authorization: {issuedAt, signature}`: the policy client\'s EIP-712 signature of `AttestationConsumption(bytes32 digest,uint64 issuedAt)` over the attestation\'s digest, domain `{name: "Proofgate", version: "1", chainId}` (the attestation\'s chain), issuedAt within 300 s of the gateway\'s clock.',
    responses: {
      200: ok('consumed', r.consumed),
      401: ok('consume_consent_required (none sent), stale_consume_consent (issuedAt over 300 s away)', r.errorBody),
      403: ok("not_policy_client: the consent is not signed by the attestation's policy client", r.errorBody),
      409: ok('attestation_already_used', r.errorBody),
      422: ok('invalid_attestation (with reasons), attestation_unbound (no policy client: nobody may consume it)', r.errorBody),
    },
  },
  'POST /v1/policy-data': {
    summary: 'Upload a PolicyData WebAssembly module (admin)',
    tag: 'intents',
    responses: { 201: ok('stored'), 200: ok('already stored') },
  },
  'GET /v1/policy-data/:sha256': {
    summary: "A PolicyData module's bytes",
    tag: 'intents',
    responses: { 200: { description: 'the module', mediaType: 'application/wasm' } },
  },
  'POST /v1/policy-data/secrets': {
    summary: "A task operator's PolicyData secrets, sealed to its key (HMAC-authenticated node request)",
    tag: 'intents',
    responses: { 200: ok('the sealed secrets') },
  },
  'PUT /v1/policy-data/:sha256/secrets/:policyClient': {
    summary: "Store a policy client's secrets for a PolicyData module (admin)",
    tag: 'intents',
    responses: { 200: ok('stored') },
  },
  'GET /v1/policy-data/:sha256/secrets/:policyClient': {
    summary: 'The names of the stored secrets, never their values (admin)',
    tag: 'intents',
    responses: { 200: ok('secret names') },
  },
  'DELETE /v1/policy-data/:sha256/secrets/:policyClient': {
    summary: "Delete a policy client's secrets (admin)",
    tag: 'intents',
    responses: { 200: ok('deleted') },
  },
  'GET /v1/operators': {
    summary: "The OperatorRegistry's members on chain (stakes at the latest block) and the signer nodes registered here (URLs for admins only)",
    tag: 'nodes',
    description: 'Stakes live on chain (the OperatorRegistry contract); its owner changes them there, never through the gateway.',
    responses: { 200: ok('the registry block and the operators', r.operatorSet) },
  },
  'POST /v1/operators/register': {
    summary:
      "Register a signer node (operator token, proof of possession, the BLS key's signature); tasks reach it once the registry on chain lists its id with the same key and a stake",
    tag: 'nodes',
    responses: {
      201: ok('registered', z.object({ id: z.string(), authKey: z.string().describe("the node's gateway-request key"), created: z.literal(true) })),
      200: ok('updated (the same key and id again)', z.object({ id: z.string(), authKey: z.string(), created: z.literal(false) })),
      400: ok('invalid_proof_of_possession', r.errorBody),
      401: ok('invalid_signature, stale_registration', r.errorBody),
      409: ok('operator_key_registered, operator_id_taken', r.errorBody),
    },
  },
  'GET /v1/backends': {
    summary: 'Registered backends, health and load (URLs for admins only)',
    tag: 'nodes',
    responses: { 200: ok('backends', list('backends', r.backend)) },
  },
  'POST /v1/backends/register': {
    summary: "Register a backend (operator token and its key's EIP-712 signature)",
    tag: 'nodes',
    responses: { 200: ok('registered') },
  },
  'POST /v1/backends/depart': {
    summary: 'A drained backend leaves the pool (its own signature)',
    tag: 'nodes',
    responses: { 200: ok('left the pool') },
  },
  'GET /metrics': {
    summary: "The gateway's call metrics and the pool's backends (admin)",
    tag: 'gateway',
    responses: { 200: { description: 'Prometheus text exposition', mediaType: 'text/plain' } },
  },
  'POST /v1/backends/heartbeat': {
    summary: "A backend's signed heartbeat",
    tag: 'nodes',
    responses: { 200: ok('recorded'), 404: ok('register again', r.errorBody) },
  },
  ...KSERVE_ROUTE_DOCS,
};
