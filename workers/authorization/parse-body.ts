import type { z } from 'zod';
import { InvalidRequestError } from '../../core/errors';

/** Validates a request body with a zod schema; the first issue becomes a 400 `invalid_request`. */
export function parseBody<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, body: unknown): T {
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new InvalidRequestError('invalid_request', `${issue.path.join('.') || 'body'}: ${issue.message}`);
  }
  return result.data;
}
