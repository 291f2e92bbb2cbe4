/**
 * Structured logs: one JSON object per line on the console, which Workers Logs (and `wrangler dev`)
 * keep as is. Fields are a closed, typed set so that a header, a body or a secret cannot be logged
 * by passing a whole object; values are scalars.
 */

/** Where a paid call's payment stands, as logged. */
export type LoggedPaymentState = 'required' | 'refused' | 'reserved' | 'pending' | 'settled' | 'released' | 'failed' | 'replayed';

/** What a log line may say. Add a field here (with a scalar type) rather than logging an object. */
export interface LogFields {
  /** The gateway's id of the HTTP request (also the `proofgate-request-id` answer header). */
  requestId?: string;
  method?: string;
  /** The route pattern that matched (e.g. `/v1/models/:name/infer`), never the raw URL with its query. */
  route?: string;
  status?: number;
  latencyMs?: number;
  /** Stable error code of a refused or failed request. */
  code?: string;
  model?: string;
  version?: number;
  /** The backend (its address) that served an inference call. */
  backend?: string;
  /** The receipt's request id of an inference call. */
  receiptId?: string;
  /** The payment record (`pay_…`) and its state. */
  paymentId?: string;
  payment?: LoggedPaymentState;
  taskId?: string;
  sha256?: string;
  bytes?: number;
  /** A short human-readable note (never a request body, header or error stack). */
  detail?: string;
}

/** Level of a log line: errors and warnings go to console.error / console.warn. */
export type LogLevel = 'info' | 'warn' | 'error';

/** Writes one JSON log line: `{"level", "event", ...fields}`; undefined fields are left out. */
export function logEvent(event: string, fields: LogFields, level: LogLevel = 'info'): void {
  const line = JSON.stringify({ level, event, ...fields });
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else console.info(line);
}
