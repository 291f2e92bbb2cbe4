/** providers.aws.sign_req: AWS Signature Version 4 request signing, as OPA implements it. */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { typeError } from '../errors';
import { RObject, jsonText } from '../value';
import type { Value } from '../value';
import { obj } from './args';
import { toHex } from './crypto';
import { formatTime } from './time';
import { def } from './types';
import type { BuiltinDef } from './types';

const NAME = 'providers.aws.sign_req';
const enc = new TextEncoder();
/** Request headers AWS never signs. */
const IGNORED = new Set(['authorization', 'user-agent', 'x-amzn-trace-id']);

function keySet(keys: string[]): string {
  return `{${keys.map((k) => JSON.stringify(k)).join(', ')}}`;
}

/** Checks required string keys; OPA reports missing keys first, then non-string ones. */
function required<K extends string>(o: RObject, keys: K[], operand: number, what: string): Record<K, string> {
  const missing = keys.filter((k) => !o.has(k));
  if (missing.length) throw typeError(NAME, `operand ${operand} missing required ${what} parameters(s): ${keySet(missing)}`);
  const invalid = keys.filter((k) => typeof o.get(k) !== 'string');
  if (invalid.length) throw typeError(NAME, `operand ${operand} invalid values for required ${what} parameters(s): ${keySet(invalid)}`);
  return Object.fromEntries(keys.map((k) => [k, o.get(k) as string])) as Record<K, string>;
}

function mac(key: Uint8Array, msg: string): Uint8Array {
  return hmac(sha256, key, enc.encode(msg));
}

/** Host and escaped path of a URL, the way Go's net/url exposes them. */
function urlParts(url: string): { host: string; path: string; query: string } {
  const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?/.exec(url);
  if (!m) throw typeError(NAME, `operand 1 invalid url ${JSON.stringify(url)}`);
  const host = m[1]!.replace(/^[^@]*@/, '');
  return { host, path: m[2]!, query: m[3] ?? '' };
}

function signReq(a: Value[]): Value {
  const req = obj(NAME, a, 0);
  const config = obj(NAME, a, 1);
  const t = a[2]!;
  const { method, url } = required(req, ['method', 'url'], 1, 'request');
  const creds = required(config, ['aws_access_key', 'aws_region', 'aws_secret_access_key', 'aws_service'], 2, 'AWS config');
  const dps = config.get('disable_payload_signing');
  if (dps !== undefined && typeof dps !== 'boolean') throw typeError(NAME, "operand 2 invalid value for 'disable_payload_signing' in AWS config");
  if ((typeof t !== 'number' && typeof t !== 'bigint') || (typeof t === 'number' && !Number.isInteger(t)) || BigInt(t) < 0n) {
    throw typeError(NAME, 'operand 3 could not convert time_ns value into a unix timestamp');
  }
  const ns = BigInt(t);
  const token = config.get('aws_session_token');
  const rawBody = req.get('raw_body');
  const body = typeof rawBody === 'string' ? rawBody : req.has('body') ? jsonText(req.get('body')!) : '';
  const payloadHash = dps === true ? 'UNSIGNED-PAYLOAD' : toHex(sha256(enc.encode(body)));
  const date = formatTime(ns, 'UTC', '20060102');
  const stamp = formatTime(ns, 'UTC', '20060102T150405Z');
  const { host, path, query } = urlParts(url);
  const awsHeaders: Record<string, string> = { host, 'x-amz-date': stamp };
  if (creds.aws_service === 's3' || creds.aws_service === 'glacier') awsHeaders['x-amz-content-sha256'] = payloadHash;
  if (typeof token === 'string' && token !== '') awsHeaders['x-amz-security-token'] = token;
  const reqHeaders = req.get('headers');
  // Request headers are signed as given (even over the AWS ones); the AWS values win in the output.
  const signed = new Map<string, string>(Object.entries(awsHeaders));
  if (reqHeaders instanceof RObject) {
    for (const [k, v] of reqHeaders.entries()) {
      if (typeof k !== 'string') continue;
      const lk = k.toLowerCase();
      if (!IGNORED.has(lk)) signed.set(lk, typeof v === 'string' ? v : jsonText(v));
    }
  }
  const names = [...signed.keys()].sort();
  const canonical = [method, path, query, ...names.map((k) => `${k}:${signed.get(k)}`), '', names.join(';'), payloadHash].join('\n');
  const scope = `${date}/${creds.aws_region}/${creds.aws_service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', stamp, scope, toHex(sha256(enc.encode(canonical)))].join('\n');
  let key = mac(enc.encode(`AWS4${creds.aws_secret_access_key}`), date);
  key = mac(key, creds.aws_region);
  key = mac(key, creds.aws_service);
  key = mac(key, 'aws4_request');
  const signature = toHex(mac(key, toSign));
  const headers = reqHeaders instanceof RObject ? reqHeaders.copy() : new RObject();
  for (const [k, v] of Object.entries(awsHeaders)) headers.set(k, v);
  headers.set(
    'Authorization',
    `AWS4-HMAC-SHA256 Credential=${creds.aws_access_key}/${scope},SignedHeaders=${names.join(';')},Signature=${signature}`,
  );
  const out = req.copy();
  out.set('headers', headers);
  return out;
}

/** Registry entries of this family. */
export const awsBuiltins: BuiltinDef[] = [def(NAME, 3, signReq)];
