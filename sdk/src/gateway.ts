import { GatewayUnreachableError, errorFromBody } from './errors';

/** How to reach a gateway, and the credentials a call may need. */
export interface GatewayOptions {
  /** Base URL of the gateway, e.g. `https://gateway.example.com` or `http://127.0.0.1:8787`. */
  gateway: string;
  /** An API key (`pgk_…`): the caller's identity for admission policies on free models. */
  apiKey?: string;
  /** The gateway's admin token, for publishing models, policies and API keys. */
  adminToken?: string;
  /** The gateway's operator token, for registering nodes. */
  operatorToken?: string;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
}

/** Which credential a call sends in `Authorization: Bearer …`. */
export type Credential = 'none' | 'apiKey' | 'admin' | 'operator';

/** One HTTP call to the gateway. */
export interface GatewayRequest {
  method?: string;
  /** Path with its query, e.g. `/v1/models?x=1`. */
  path: string;
  auth?: Credential;
  /** A JSON body (sent as application/json). */
  json?: unknown;
  /** A raw body, with its content type. */
  body?: BodyInit;
  contentType?: string;
  accept?: string;
  headers?: Record<string, string>;
  /** Needed by fetch when `body` is a ReadableStream. */
  duplex?: 'half';
}

/** The gateway's base URL without trailing slashes. */
export function baseUrl(options: Pick<GatewayOptions, 'gateway'>): string {
  return options.gateway.replace(/\/+$/, '');
}

/** Performs a call and returns the response when it is a 2xx; otherwise throws the error class of the gateway's answer. */
export async function gatewayFetch(options: GatewayOptions, req: GatewayRequest): Promise<Response> {
  const res = await rawFetch(options, req);
  if (!res.ok) throw await errorFromResponse(res);
  return res;
}

/** Performs a call and returns the response whatever its status (network failures throw GatewayUnreachableError). */
export async function rawFetch(options: GatewayOptions, req: GatewayRequest, fetchImpl: typeof fetch = options.fetch ?? fetch): Promise<Response> {
  const headers = new Headers(req.headers);
  const token = credential(options, req.auth ?? 'none');
  if (token) headers.set('authorization', `Bearer ${token}`);
  if (req.accept) headers.set('accept', req.accept);
  let body = req.body;
  if (req.json !== undefined) {
    body = JSON.stringify(req.json);
    headers.set('content-type', 'application/json');
  } else if (req.contentType) headers.set('content-type', req.contentType);
  const init: RequestInit & { duplex?: 'half' } = { method: req.method ?? (body === undefined ? 'GET' : 'POST'), headers };
  if (body !== undefined) init.body = body;
  if (req.duplex) init.duplex = req.duplex;
  try {
    return await fetchImpl(`${baseUrl(options)}${req.path}`, init);
  } catch (err) {
    throw new GatewayUnreachableError(`cannot reach ${baseUrl(options)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** GETs or POSTs and parses the JSON answer. */
export async function gatewayJson<T>(options: GatewayOptions, req: GatewayRequest): Promise<T> {
  const res = await gatewayFetch(options, { accept: 'application/json', ...req });
  return (await res.json()) as T;
}

/** The error a non-2xx response stands for (its body is consumed). */
export async function errorFromResponse(res: Response) {
  const text = await res.text().catch(() => '');
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: the text itself, cut short, becomes the message
  }
  return errorFromBody(res.status, body, res.headers.get('retry-after'));
}

function credential(options: GatewayOptions, auth: Credential): string | undefined {
  if (auth === 'apiKey') return options.apiKey;
  if (auth === 'admin') return need(options.adminToken, 'an admin token (adminToken)');
  if (auth === 'operator') return need(options.operatorToken, 'an operator token (operatorToken)');
  return undefined;
}

function need(value: string | undefined, what: string): string {
  if (!value) throw new TypeError(`this call needs ${what}`);
  return value;
}

/** `?a=1&b=2` from the defined entries, or '' when none. */
export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
