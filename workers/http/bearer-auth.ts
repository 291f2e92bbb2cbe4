import { ProofgateError } from '../../core/errors';

/** A missing or wrong bearer token. */
export class UnauthorizedError extends ProofgateError {
  constructor(realm: string) {
    super('unauthorized', `a valid ${realm} bearer token is required`, 401);
  }
}

const utf8 = new TextEncoder();

/** Throws 401 unless the request carries `Authorization: Bearer <expected>` (compared in constant time). */
export function requireBearer(request: Request, expected: string | undefined, realm: string): void {
  const header = request.headers.get('authorization') ?? '';
  const match = /^Bearer (.+)$/.exec(header);
  if (!expected || !match) throw new UnauthorizedError(realm);
  const a = utf8.encode(match[1]!);
  const b = utf8.encode(expected);
  if (a.byteLength !== b.byteLength || !crypto.subtle.timingSafeEqual(a, b)) throw new UnauthorizedError(realm);
}

/** True when the request carries the admin token (for endpoints that show admins more). */
export function isAdmin(request: Request, adminToken: string | undefined): boolean {
  try {
    requireBearer(request, adminToken, 'admin');
    return true;
  } catch {
    return false;
  }
}
