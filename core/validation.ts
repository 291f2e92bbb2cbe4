import type { z } from 'zod';
import { InvalidRequestError } from './errors';

/**
 * Validates untrusted input with a zod schema: the parsed value, or a 400 `invalid_request` naming
 * the first issue's path. The one way every endpoint and node turns schema failures into errors.
 */
export function parseWithSchema<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, input: unknown, code = 'invalid_request'): T {
  const result = schema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new InvalidRequestError(code, `${issue.path.join('.') || 'body'}: ${issue.message}`);
  }
  return result.data;
}
