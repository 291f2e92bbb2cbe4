import { bytesToHex, type Hex } from 'viem';
import { ProofgateError } from '../core/errors';
import { deriveNodeAuthKey, gatewayRequestHeaders, operatorAuthLabel } from '../core/node-protocol';

/** An operator's node did not answer, or answered with an error. */
export class OperatorCallError extends ProofgateError {
  constructor(operatorId: string, message: string) {
    super('operator_call_failed', `operator ${operatorId}: ${message}`, 502);
  }
}

/** Where and to whom a task phase is sent. */
export interface OperatorEndpoint {
  id: string;
  url: string;
}

/**
 * POSTs one task phase to an operator, authenticated like gateway → backend calls (HMAC over
 * method, path, task id, policy id, body hash and time, with the operator's derived key), and
 * returns its JSON reply. Anything but a 2xx JSON answer throws OperatorCallError.
 */
export async function callOperator(
  gatewaySecret: string,
  operator: OperatorEndpoint,
  path: string,
  ids: { taskId: Hex; policyId: Hex },
  body: unknown,
  timeoutMs: number,
): Promise<unknown> {
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  const bodySha256 = bytesToHex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)));
  const timestamp = Date.now();
  const authKey = await deriveNodeAuthKey(gatewaySecret, operatorAuthLabel(operator.id));
  const auth = await gatewayRequestHeaders(authKey, { method: 'POST', path, requestId: ids.taskId, subject: ids.policyId, bodySha256, timestamp });
  let res: Response;
  try {
    res = await fetch(`${operator.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: bytes,
      signal: AbortSignal.timeout(Math.max(1, timeoutMs)),
    });
  } catch (err) {
    throw new OperatorCallError(operator.id, err instanceof Error && err.name === 'TimeoutError' ? 'no answer in time' : 'unreachable');
  }
  const text = await res.text();
  // Only the node's error code is kept: its message is an operator's text, which the gateway never echoes.
  if (!res.ok) throw new OperatorCallError(operator.id, `HTTP ${res.status}${errorCodeOf(text)}`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new OperatorCallError(operator.id, 'answer is not JSON');
  }
}

function errorCodeOf(text: string): string {
  try {
    const code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' && /^[a-z0-9_]{1,64}$/.test(code) ? ` ${code}` : '';
  } catch {
    return '';
  }
}
