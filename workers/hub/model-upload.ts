/**
 * How model bytes reach the hub without ever being held by the Worker (128 MB per isolate, shared by
 * concurrent requests). Bytes are first staged in R2 under `uploads/…`, either from one request body
 * (models up to MAX_MODEL_BYTES, under Cloudflare's request body limit) or as an R2 multipart upload
 * whose parts are streamed one request each (models up to MAX_MODEL_UPLOAD_BYTES). Publishing then
 * reads the staged object once as a stream (hash and ONNX signature, model-inspection.ts), copies it
 * to its content address `models/<sha256>` (R2 checks the hash on write), and records the version.
 * The staged object is deleted afterwards, even when the client has gone; R2 lifecycle rules on
 * `uploads/` remove what an interrupted upload leaves (docs/deploying.md).
 */
import type { Hex } from 'viem';
import { InvalidRequestError, ProofgateError } from '../../core/errors';
import type { Env } from '../env';
import { PayloadTooLargeError, byteLimit } from '../http/request-body';
import { inspectModelStream } from './model-inspection';
import { type ModelVersion, type PublishTerms, modelObjectKey, publishModel } from './model-store';

/** Largest single-request upload unless `MAX_MODEL_BYTES` says otherwise (under every plan's 100 MB body limit). */
export const DEFAULT_MAX_MODEL_BYTES = 64 * 1024 * 1024;
/** Largest model through a multipart upload unless `MAX_MODEL_UPLOAD_BYTES` says otherwise: ONNX's protobuf cannot exceed 2 GiB. */
export const DEFAULT_MAX_MODEL_UPLOAD_BYTES = 2 * 1024 * 1024 * 1024;
/** Part size clients should use: every part but the last must have the same size (R2). */
export const PART_BYTES = 32 * 1024 * 1024;
/** R2's smallest part (all but the last). */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** Largest part the gateway accepts: well under the 100 MB request body limit of Free and Pro zones. */
export const MAX_PART_BYTES = 64 * 1024 * 1024;
/** R2's largest part number. */
export const MAX_PARTS = 10_000;

const STAGING_PREFIX = 'uploads/';

/** Largest single-request model upload of this deployment. */
export function singleUploadLimit(env: Env): number {
  return byteLimit(env.MAX_MODEL_BYTES, DEFAULT_MAX_MODEL_BYTES);
}

/** Largest model of this deployment, through any upload path. */
export function modelUploadLimit(env: Env): number {
  return Math.max(byteLimit(env.MAX_MODEL_UPLOAD_BYTES, DEFAULT_MAX_MODEL_UPLOAD_BYTES), singleUploadLimit(env));
}

/** An upload body without Content-Length: its size must be known before it is streamed to R2. */
export class LengthRequiredError extends ProofgateError {
  constructor() {
    super('length_required', 'uploads must declare their size in Content-Length', 411);
  }
}

/** No such upload: never started, already completed or aborted, or expired. */
export class UploadNotFoundError extends ProofgateError {
  constructor() {
    super('upload_not_found', 'no such upload (completed, aborted or expired?)', 404);
  }
}

/** The parts named to complete an upload do not make one object (missing, wrong etag, too small). */
export class InvalidUploadPartsError extends ProofgateError {
  constructor() {
    super(
      'invalid_upload_parts',
      `the parts do not form the upload: every part but the last must have the same size, at least ${MIN_PART_BYTES} bytes`,
      400,
    );
  }
}

/**
 * The size a request body declares, checked before a byte is read: Content-Length must be present
 * (411), non-zero (400) and at most `limit` (413).
 */
export function declaredBodyLength(request: Request, limit: number): number {
  const header = request.headers.get('content-length');
  if (header === null || !/^[0-9]+$/.test(header)) throw new LengthRequiredError();
  const length = Number(header);
  if (length > limit) throw new PayloadTooLargeError(limit);
  if (length === 0 || !request.body) throw new InvalidRequestError('invalid_model', 'model body is empty');
  return length;
}

/** Streams a single-request upload's body into a new staging object; returns its key. */
export async function stageRequestBody(bucket: R2Bucket, request: Request, limit: number): Promise<string> {
  declaredBodyLength(request, limit);
  const key = `${STAGING_PREFIX}${crypto.randomUUID()}`;
  await bucket.put(key, request.body);
  return key;
}

/** Starts a multipart upload into a new staging object; the id names both (see parseUploadId). */
export async function startMultipartUpload(bucket: R2Bucket): Promise<{ uploadId: string }> {
  const staging = crypto.randomUUID();
  const upload = await bucket.createMultipartUpload(`${STAGING_PREFIX}${staging}`);
  return { uploadId: `${staging}.${toBase64Url(upload.uploadId)}` };
}

/** Streams one part (its request body, at most MAX_PART_BYTES) into a multipart upload. */
export async function uploadModelPart(bucket: R2Bucket, uploadId: string, partNumber: number, request: Request): Promise<R2UploadedPart> {
  if (!Number.isSafeInteger(partNumber) || partNumber < 1 || partNumber > MAX_PARTS) {
    throw new InvalidRequestError('invalid_part_number', `part numbers are 1 to ${MAX_PARTS}`);
  }
  const { key, r2UploadId } = parseUploadId(uploadId);
  declaredBodyLength(request, MAX_PART_BYTES);
  return r2Call(() => bucket.resumeMultipartUpload(key, r2UploadId).uploadPart(partNumber, request.body!));
}

/** Completes a multipart upload from its parts; returns the staging object's key. */
export async function completeMultipartUpload(bucket: R2Bucket, uploadId: string, parts: R2UploadedPart[]): Promise<string> {
  const { key, r2UploadId } = parseUploadId(uploadId);
  await r2Call(() => bucket.resumeMultipartUpload(key, r2UploadId).complete(parts));
  return key;
}

/** Aborts a multipart upload and drops its parts. */
export async function abortMultipartUpload(bucket: R2Bucket, uploadId: string): Promise<void> {
  const { key, r2UploadId } = parseUploadId(uploadId);
  await r2Call(() => bucket.resumeMultipartUpload(key, r2UploadId).abort());
}

/** What a staged upload is published as: a name and its pricing terms. */
export interface PublishTarget extends PublishTerms {
  name: string;
  /** Largest model accepted. */
  maxBytes: number;
}

/**
 * Publishes a staged upload: inspects it (hash, ONNX signature; 400 when it is not a servable
 * model), stores it at its content address, records the version. The staged object is deleted
 * whatever the outcome, through `waitUntil`, so a client that disconnects leaves nothing behind.
 */
export function publishStagedModel(
  db: D1Database,
  bucket: R2Bucket,
  ctx: ExecutionContext,
  stagingKey: string,
  target: PublishTarget,
  nowMs: number,
): Promise<{ model: ModelVersion; created: boolean }> {
  const work = (async () => {
    const staged = await bucket.get(stagingKey);
    if (!staged) throw new UploadNotFoundError();
    if (staged.size > target.maxBytes) {
      await staged.body.cancel();
      throw new PayloadTooLargeError(target.maxBytes);
    }
    const inspected = await inspectModelStream(staged.body);
    await storeAtContentAddress(bucket, stagingKey, staged.etag, inspected.sha256);
    return publishModel(db, target.name, inspected, target, nowMs);
  })();
  const cleanup = () => bucket.delete(stagingKey).catch(() => undefined);
  ctx.waitUntil(work.then(cleanup, cleanup));
  return work;
}

// Copies the staged bytes to `models/<sha256>` unless they are there already. The copy is of the
// very object that was inspected (etag), and R2 refuses the write unless it hashes to `sha256`.
async function storeAtContentAddress(bucket: R2Bucket, stagingKey: string, etag: string, sha256: Hex): Promise<void> {
  const key = modelObjectKey(sha256);
  if (await bucket.head(key)) return;
  const staged = await bucket.get(stagingKey, { onlyIf: { etagMatches: etag } });
  if (!staged || !('body' in staged)) throw new UploadNotFoundError();
  await bucket.put(key, staged.body, { sha256: sha256.slice(2), httpMetadata: { contentType: 'application/octet-stream' } });
}

// An upload id is `<staging uuid>.<R2's upload id, base64url>`: the client holds the whole state of
// the upload, so the gateway keeps no table of uploads (R2 expires abandoned ones).
const UPLOAD_ID = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([A-Za-z0-9_-]{1,2048})$/;

function parseUploadId(uploadId: string): { key: string; r2UploadId: string } {
  const match = UPLOAD_ID.exec(uploadId);
  const r2UploadId = match ? fromBase64Url(match[2]!) : null;
  if (!match || !r2UploadId) throw new UploadNotFoundError();
  return { key: `${STAGING_PREFIX}${match[1]}`, r2UploadId };
}

// R2 reports a missing upload and unusable parts as plain errors with its numeric codes.
async function r2Call<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (/\(10024\)|NoSuchUpload|does not exist/i.test(message)) throw new UploadNotFoundError();
    if (/\(100(11|25)\)|EntityTooSmall|InvalidPart/i.test(message)) throw new InvalidUploadPartsError();
    throw err;
  }
}

function toBase64Url(text: string): string {
  return btoa(text).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function fromBase64Url(text: string): string | null {
  try {
    return atob(text.replaceAll('-', '+').replaceAll('_', '/'));
  } catch {
    return null;
  }
}
