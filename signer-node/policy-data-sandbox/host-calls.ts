/**
 * The main-thread side of the host functions: HTTP restricted to allowed hosts and recorded,
 * secrets by name, and module logs, all with secret values redacted from what is kept.
 */
import { z } from 'zod';
import { errEnvelope, okEnvelope } from './abi';
import { HostCallError } from './errors';
import { MAX_LOG_CHARS, MAX_LOG_ENTRIES } from './worker-protocol';

/** An HTTP request as a module writes it for http_fetch. */
export interface HttpRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
}

/** An HTTP response as the module receives it (body as UTF-8 text, header names lower-case). */
export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * One recorded http_fetch: the response, or the error the module got instead; neither when the
 * run ended (timeout) before the answer. Secret values are redacted.
 */
export interface HttpCall {
  request: HttpRequest;
  response?: HttpResponse;
  error?: { code: string; message: string };
}

/** Performs an allowed request; injectable to replay recorded responses or to route via a proxy. */
export type PolicyDataFetch = (request: HttpRequest, signal: AbortSignal) => Promise<HttpResponse>;

/**
 * The secrets a run may read: given, or loaded on the first read (from the gateway, for the task's
 * policy client), so a run that reads none costs no request. Undefined: none are stored.
 */
export type PolicyDataSecrets = Readonly<Record<string, string>> | (() => Promise<Readonly<Record<string, string>> | undefined>);

/** Limits and capabilities of one run's host functions. */
export interface HostCallOptions {
  secrets: PolicyDataSecrets;
  fetch: PolicyDataFetch;
  allowedHosts: readonly string[];
  maxHttpCalls: number;
  maxHttpResponseBytes: number;
  signal: AbortSignal;
}

const REDACTED = '[redacted]';

const requestSchema = z
  .object({
    url: z.string().max(8192),
    method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']).default('GET'),
    headers: z.record(z.string()).default({}),
    body: z.string().optional(),
  })
  .strict();

/** Host-function state of one run: what the module was given, and the record of it. */
export class HostCalls {
  readonly httpCalls: HttpCall[] = [];
  readonly logs: string[] = [];
  private secretValues: string[] = [];
  private secrets: Promise<Readonly<Record<string, string>> | undefined> | undefined;

  constructor(private readonly opts: HostCallOptions) {
    if (typeof opts.secrets !== 'function') this.secrets = Promise.resolve(this.remember(opts.secrets));
  }

  /**
   * http_fetch: the response envelope for the module's request JSON. Every well-formed request is
   * recorded as soon as it is made, so a run that times out shows the call it was waiting on.
   */
  async httpFetch(requestJson: string): Promise<string> {
    let request: HttpRequest;
    try {
      request = parseRequest(requestJson);
    } catch (e) {
      return errEnvelope('invalid_request', this.redact((e as Error).message));
    }
    if (this.httpCalls.length >= this.opts.maxHttpCalls) {
      return errEnvelope('too_many_calls', `a run may make at most ${this.opts.maxHttpCalls} HTTP calls`);
    }
    const index = this.httpCalls.push(this.redact({ request })) - 1;
    try {
      const response = await this.send(request);
      this.complete(index, { request, response });
      return okEnvelope(response);
    } catch (e) {
      const error = e instanceof HostCallError ? e : new HostCallError('fetch_failed', describe(e));
      this.complete(index, { request, error: { code: error.code, message: error.message } });
      return errEnvelope(error.code, this.redact(error.message));
    }
  }

  /** secrets_get: the secret's value, or an error envelope naming no value. */
  async secret(name: string): Promise<string> {
    const loaded = await this.loadSecrets();
    if (typeof loaded === 'string') return loaded;
    const value = loaded && Object.hasOwn(loaded, name) ? loaded[name] : undefined;
    return value === undefined ? errEnvelope('unknown_secret', `no secret named ${JSON.stringify(name)}`) : okEnvelope(value);
  }

  /** newton:provider/secrets.get: every secret as one object, or an error envelope when none is stored. */
  async allSecrets(): Promise<string> {
    const loaded = await this.loadSecrets();
    if (typeof loaded === 'string') return loaded;
    return loaded === undefined ? errEnvelope('unknown_secret', 'no secrets are stored for this policy client and PolicyData') : okEnvelope(loaded);
  }

  /** log: keeps a bounded, redacted copy of the module's message. */
  log(message: string): void {
    if (this.logs.length < MAX_LOG_ENTRIES) this.logs.push(this.redact(message.slice(0, MAX_LOG_CHARS)));
  }

  /** Replaces every secret value inside strings of a JSON-like value. */
  redact<T>(value: T): T {
    if (typeof value === 'string') {
      return this.secretValues.reduce((s, secret) => s.split(secret).join(REDACTED), value as string) as T;
    }
    if (Array.isArray(value)) return value.map((v) => this.redact(v)) as T;
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [this.redact(k), this.redact(v)])) as T;
    }
    return value;
  }

  /** The secrets, loaded once; a loading failure is an error envelope for the module (its message redacted). */
  private async loadSecrets(): Promise<Readonly<Record<string, string>> | undefined | string> {
    const source = this.opts.secrets;
    this.secrets ??= typeof source === 'function' ? source().then((s) => this.remember(s)) : Promise.resolve(this.remember(source));
    try {
      return await this.secrets;
    } catch (e) {
      return errEnvelope('secrets_unavailable', this.redact(describe(e)));
    }
  }

  /** Keeps the values to redact: longest first, so a secret that contains another is redacted whole. */
  private remember(secrets: Readonly<Record<string, string>> | undefined): Readonly<Record<string, string>> | undefined {
    this.secretValues = Object.values(secrets ?? {})
      .filter((v) => typeof v === 'string' && v.length > 0)
      .sort((a, b) => b.length - a.length);
    return secrets;
  }

  /** Fills in a recorded call, unless the run already ended (its record is then final). */
  private complete(index: number, call: HttpCall): void {
    if (!this.opts.signal.aborted) this.httpCalls[index] = this.redact(call);
  }

  private async send(request: HttpRequest): Promise<HttpResponse> {
    const url = parseUrl(request.url);
    if (!isHostAllowed(url, this.opts.allowedHosts)) {
      throw new HostCallError('host_not_allowed', `${url.host} is not in allowedHosts`);
    }
    const response = normalizeResponse(await this.opts.fetch(request, this.opts.signal));
    const size = new TextEncoder().encode(response.body).length;
    if (size > this.opts.maxHttpResponseBytes) {
      throw new HostCallError('response_too_large', `response body exceeds ${this.opts.maxHttpResponseBytes} bytes`);
    }
    return response;
  }
}

/**
 * Whether the URL may be fetched: http(s) only, and its `host` (with port) or `hostname`
 * (any port) equals an entry of allowedHosts.
 */
export function isHostAllowed(url: URL, allowedHosts: readonly string[]): boolean {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  return allowedHosts.some((entry) => {
    const allowed = entry.toLowerCase();
    return allowed === url.host || allowed === url.hostname;
  });
}

/**
 * The default fetch: the network, without following redirects (a redirect could leave
 * allowedHosts; the module sees the 3xx), reading at most maxBytes of body.
 */
export function networkFetch(maxBytes: number): PolicyDataFetch {
  return async (request, signal) => {
    const res = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      redirect: 'manual',
      signal,
    });
    const headers: Record<string, string> = {};
    for (const [name, value] of res.headers) headers[name] = value;
    return { status: res.status, headers, body: await readText(res, maxBytes) };
  };
}

async function readText(res: Response, maxBytes: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxBytes) {
      await reader.cancel();
      throw new HostCallError('response_too_large', `response body exceeds ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  const all = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  return new TextDecoder().decode(all);
}

/**
 * Rebuilds a response from the fetch function in ABI form: keys status, headers, body in that order
 * (modules test the prefix), header names lower-case and sorted, so a replay gives the same bytes.
 */
function normalizeResponse(response: HttpResponse): HttpResponse {
  const { status, headers, body } = response;
  const validHeaders = headers !== null && typeof headers === 'object' && Object.values(headers).every((v) => typeof v === 'string');
  if (!Number.isInteger(status) || status < 100 || status > 599 || !validHeaders || typeof body !== 'string') {
    throw new HostCallError('fetch_failed', 'fetch returned a malformed response');
  }
  const sorted = Object.entries(headers)
    .map(([name, value]) => [name.toLowerCase(), value] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { status, headers: Object.fromEntries(sorted), body };
}

function parseRequest(json: string): HttpRequest {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new HostCallError('invalid_request', 'request is not JSON');
  }
  const parsed = requestSchema.safeParse(raw);
  if (!parsed.success)
    throw new HostCallError('invalid_request', `request must be {url, method?, headers?, body?}: ${parsed.error.issues[0]?.message ?? ''}`);
  const { url, method, headers, body } = parsed.data;
  return body === undefined ? { url, method, headers } : { url, method, headers, body };
}

/** The message of a network error and of its cause (undici says only "fetch failed" at the top). */
function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  return e.cause instanceof Error ? `${e.message}: ${e.cause.message}` : e.message;
}

function parseUrl(text: string): URL {
  try {
    return new URL(text);
  } catch {
    throw new HostCallError('invalid_request', 'url is not an absolute URL');
  }
}
