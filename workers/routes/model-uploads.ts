import type { IRequest } from 'itty-router';
import { z } from 'zod';
import { InvalidRequestError } from '../../core/errors';
import type { Env } from '../env';
import type { RouteRequest } from '../http/middleware';
import { jsonResponse } from '../http/problem';
import { routeParam } from './models';
import { modelVersionCache } from '../hub/model-cache';
import { checkModelName, checkPublishTerms } from '../hub/model-store';
import {
  MAX_PARTS,
  MAX_PART_BYTES,
  MIN_PART_BYTES,
  PART_BYTES,
  abortMultipartUpload,
  completeMultipartUpload,
  modelUploadLimit,
  publishStagedModel,
  singleUploadLimit,
  stageRequestBody,
  startMultipartUpload,
  uploadModelPart,
} from '../hub/model-upload';

/** Body of `POST /v1/models/:name/uploads/:uploadId/complete`: every part with the etag its upload returned. */
export const completeUploadBody = z.object({
  parts: z
    .array(z.object({ partNumber: z.number().int().min(1).max(MAX_PARTS), etag: z.string().min(1).max(256) }))
    .min(1)
    .max(MAX_PARTS),
});

/** POST /v1/models/:name/versions?price=N&settlement=sync|async (or ?pricing=metered&ratePerMs=R&base=B&cap=C&…): publishes the ONNX body (streamed, never buffered) as a new version. */
export async function handlePublishModel(req: IRequest, env: Env, ctx: ExecutionContext): Promise<Response> {
  const target = publishTarget(req, env);
  const stagingKey = await stageRequestBody(env.MODELS, req, singleUploadLimit(env));
  return published(await publishStagedModel(env.DB, env.MODELS, ctx, stagingKey, target, Date.now()));
}

/** POST /v1/models/:name/uploads: starts a multipart upload for a model larger than one request may carry. */
export async function handleStartUpload(req: IRequest, env: Env): Promise<Response> {
  checkModelName(modelName(req));
  const { uploadId } = await startMultipartUpload(env.MODELS);
  return jsonResponse(
    {
      uploadId,
      partBytes: PART_BYTES,
      minPartBytes: MIN_PART_BYTES,
      maxPartBytes: MAX_PART_BYTES,
      maxParts: MAX_PARTS,
      maxBytes: modelUploadLimit(env),
    },
    201,
  );
}

/** PUT /v1/models/:name/uploads/:uploadId/parts/:partNumber: one part, streamed to R2; answers its etag. */
export async function handleUploadPart(req: IRequest, env: Env): Promise<Response> {
  const partNumber = Number(req.params['partNumber']);
  const part = await uploadModelPart(env.MODELS, String(req.params['uploadId']), partNumber, req);
  return jsonResponse({ partNumber: part.partNumber, etag: part.etag });
}

/** POST /v1/models/:name/uploads/:uploadId/complete?price=N&settlement=…: assembles the parts and publishes them as a version. */
export async function handleCompleteUpload(
  req: RouteRequest<z.infer<typeof completeUploadBody>>,
  env: Env,
  ctx: ExecutionContext,
): Promise<Response> {
  const target = publishTarget(req, env);
  const parts = [...req.content.parts].sort((a, b) => a.partNumber - b.partNumber);
  if (parts.some((p, i) => i > 0 && p.partNumber === parts[i - 1]!.partNumber)) {
    throw new InvalidRequestError('invalid_upload_parts', 'each part number may appear once');
  }
  const stagingKey = await completeMultipartUpload(env.MODELS, String(req.params['uploadId']), parts);
  return published(await publishStagedModel(env.DB, env.MODELS, ctx, stagingKey, target, Date.now()));
}

/** DELETE /v1/models/:name/uploads/:uploadId: abandons an upload and drops its parts. */
export async function handleAbortUpload(req: IRequest, env: Env): Promise<Response> {
  await abortMultipartUpload(env.MODELS, String(req.params['uploadId']));
  return new Response(null, { status: 204 });
}

function modelName(req: IRequest): string {
  return routeParam(req, 'name');
}

// Name, price and settlement are checked before any byte is stored: a bad request changes nothing.
function publishTarget(req: IRequest, env: Env) {
  const query = new URL(req.url).searchParams;
  return {
    name: checkModelName(modelName(req)),
    ...checkPublishTerms(query),
    maxBytes: modelUploadLimit(env),
  };
}

function published({ model, created }: Awaited<ReturnType<typeof publishStagedModel>>): Response {
  modelVersionCache.forgetLatest(model.name); // this isolate sees the new latest version at once
  return jsonResponse({ ...model, created }, created ? 201 : 200);
}
