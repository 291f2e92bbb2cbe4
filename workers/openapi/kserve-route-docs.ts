/**
 * Descriptions of the Open Inference Protocol's routes (KServe v2 REST, workers/routes/kserve.ts),
 * spread into ROUTE_DOCS: the protocol's request, response and error objects as zod schemas.
 */
import { z } from 'zod';
import { KSERVE_DATATYPES } from '../inference/kserve/datatypes';
import type { ResponseDoc, RouteDoc } from './route-docs';

const datatype = z.enum(Object.values(KSERVE_DATATYPES) as [string, ...string[]]);
const parameters = z.record(z.union([z.string(), z.number(), z.boolean()]));
const tensorData = z.array(z.unknown()).describe('row-major elements, flat or nested as the shape');
const metadataTensor = z.object({ name: z.string(), datatype, shape: z.array(z.number().int()).describe('-1 for a variable-size dimension') });
const error = z.object({ error: z.string(), code: z.string().describe("Proofgate's stable error code") }).passthrough();
const readiness = z.object({ ready: z.boolean() }).passthrough();

const inferenceRequest = z.object({
  id: z.string().optional(),
  parameters: parameters.optional().describe('`binary_data_output` (bool): all outputs as binary data'),
  inputs: z.array(
    z.object({
      name: z.string(),
      shape: z.array(z.number().int().min(0)),
      datatype,
      parameters: parameters.optional().describe('`binary_data_size` (int): the data follows the JSON, as binary'),
      data: tensorData.optional(),
    }),
  ),
  outputs: z
    .array(z.object({ name: z.string(), parameters: parameters.optional().describe('`binary_data` (bool)') }))
    .optional()
    .describe('the outputs to return (default: all)'),
});

const inferenceResponse = z.object({
  model_name: z.string(),
  model_version: z.string(),
  id: z.string().optional(),
  parameters: z
    .object({ proofgate_receipt: z.string(), proofgate_model_sha256: z.string(), proofgate_payment: z.string().optional() })
    .describe('the signed receipt and, for a paid call, the payment, each as JSON text'),
  outputs: z.array(
    z.object({ name: z.string(), datatype, shape: z.array(z.number().int()), parameters: parameters.optional(), data: tensorData.optional() }),
  ),
});

const errors: Record<number, ResponseDoc> = {
  400: { description: 'the request does not fit the protocol or the model', schema: error },
  404: { description: 'no such model or version', schema: error },
};

const metadata: RouteDoc = {
  summary: 'Open Inference Protocol model metadata: inputs and outputs with their datatypes and shapes',
  tag: 'open inference protocol',
  responses: {
    200: {
      description: 'the model metadata',
      schema: z.object({
        name: z.string(),
        versions: z.array(z.string()),
        platform: z.string(),
        inputs: z.array(metadataTensor),
        outputs: z.array(metadataTensor),
      }),
    },
    ...errors,
  },
};

const ready: RouteDoc = {
  summary: 'Open Inference Protocol model ready: whether a backend could take the model now',
  tag: 'open inference protocol',
  responses: {
    200: { description: 'ready', schema: readiness.extend({ name: z.string() }) },
    400: { description: 'not ready (the protocol says false with a 4xx)', schema: error },
    404: errors[404]!,
  },
};

const infer: RouteDoc = {
  summary: 'Open Inference Protocol inference: the same call as POST /v1/models/{name}/infer, with its receipt in parameters and headers',
  tag: 'open inference protocol',
  description:
    'A priced model answers 402 with PAYMENT-REQUIRED until a PAYMENT-SIGNATURE pays it. With an `Inference-Header-Content-Length` header (binary tensor data extension), binary input data follow the JSON.',
  body: { 'application/json': inferenceRequest, 'application/octet-stream': null },
  responses: {
    200: { description: 'the outputs with the receipt', schema: inferenceResponse },
    ...errors,
    402: { description: 'payment required or refused (PAYMENT-REQUIRED header)', schema: error },
    403: { description: 'denied by the admission policy', schema: error },
    503: { description: 'no healthy backend', schema: error },
  },
};

/** Route descriptions of the protocol, by `METHOD path` as workers/index.ts declares them. */
export const KSERVE_ROUTE_DOCS: Readonly<Record<string, RouteDoc>> = {
  'GET /v2': {
    summary: 'Open Inference Protocol server metadata: name, version, extensions',
    tag: 'open inference protocol',
    responses: {
      200: { description: 'server metadata', schema: z.object({ name: z.string(), version: z.string(), extensions: z.array(z.string()) }) },
    },
  },
  'GET /v2/health/live': {
    summary: 'Open Inference Protocol server live',
    tag: 'open inference protocol',
    responses: { 200: { description: 'live', schema: z.object({ live: z.boolean() }) } },
  },
  'GET /v2/health/ready': {
    summary: 'Open Inference Protocol server ready: every model has a backend to take it',
    tag: 'open inference protocol',
    responses: { 200: { description: 'ready', schema: readiness }, 400: { description: 'not ready', schema: error } },
  },
  'GET /v2/models/:name': metadata,
  'GET /v2/models/:name/versions/:version': metadata,
  'GET /v2/models/:name/ready': ready,
  'GET /v2/models/:name/versions/:version/ready': ready,
  'POST /v2/models/:name/infer': infer,
  'POST /v2/models/:name/versions/:version/infer': infer,
};
