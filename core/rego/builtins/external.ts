/**
 * Builtins that need the outside world (randomness, network, runtime info). They use only the
 * capabilities passed in the evaluation context, so every operator computes the same answer.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { builtinError } from '../errors';
import { normInt } from '../number';
import { RObject, RSet, jsonText, termString } from '../value';
import type { Value } from '../value';
import { int, obj, str } from './args';
import { formatIP, parseIP } from './net';
import { def } from './types';
import type { BuiltinContext, BuiltinDef } from './types';

const enc = new TextEncoder();

/** Request keys http.send accepts (OPA's list). */
const HTTP_KEYS = new Set([
  'method',
  'url',
  'body',
  'raw_body',
  'headers',
  'enable_redirect',
  'force_json_decode',
  'force_yaml_decode',
  'tls_use_system_certs',
  'tls_ca_cert',
  'tls_ca_cert_file',
  'tls_ca_cert_env_variable',
  'tls_client_cert',
  'tls_client_cert_file',
  'tls_client_cert_env_variable',
  'tls_client_key',
  'tls_client_key_file',
  'tls_client_key_env_variable',
  'tls_insecure_skip_verify',
  'tls_server_name',
  'timeout',
  'cache',
  'force_cache',
  'force_cache_duration_seconds',
  'raise_error',
  'caching_mode',
  'max_retry_attempts',
  'cache_ignored_headers',
]);

/** Deterministic bytes for a builtin call: sha256(seed, name, operands). */
function seeded(ctx: BuiltinContext, name: string, operands: Value[]): Uint8Array {
  if (ctx.context.seed === undefined) throw builtinError(name, 'no randomness seed in the evaluation context (pass context.seed)');
  return sha256(enc.encode(`${ctx.context.seed}\u0000${name}\u0000${jsonText(operands)}`));
}

function toBigInt(b: Uint8Array): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

/** Registry entries of this family. */
export const externalBuiltins: BuiltinDef[] = [
  def('rand.intn', 2, (a, ctx) => {
    str('rand.intn', a, 0);
    const n = BigInt(int('rand.intn', a, 1));
    if (n === 0n) return 0;
    const m = n < 0n ? -n : n;
    return normInt(toBigInt(seeded(ctx, 'rand.intn', a)) % m);
  }),
  def('uuid.rfc4122', 1, (a, ctx) => {
    str('uuid.rfc4122', a, 0);
    const b = seeded(ctx, 'uuid.rfc4122', a).slice(0, 16);
    b[6] = (b[6]! & 0x0f) | 0x40;
    b[8] = (b[8]! & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }),
  def('http.send', 1, (a, ctx) => {
    const req = obj('http.send', a, 0);
    const keys = req.keys().map((k) => (typeof k === 'string' ? k : jsonText(k)));
    const invalid = keys.filter((k) => !HTTP_KEYS.has(k)).sort();
    if (invalid.length) throw builtinError('http.send', `invalid request parameters(s): {${invalid.map((k) => JSON.stringify(k)).join(', ')}}`);
    const missing = ['method', 'url'].filter((k) => !req.has(k));
    if (missing.length)
      throw builtinError('http.send', `missing required request parameters(s): {${missing.map((k) => JSON.stringify(k)).join(', ')}}`);
    if (!ctx.context.httpSend) throw builtinError('http.send', 'no HTTP client in the evaluation context (pass context.httpSend)');
    return ctx.context.httpSend(req);
  }),
  def('net.lookup_ip_addr', 1, (a, ctx) => {
    const name = str('net.lookup_ip_addr', a, 0);
    // An IP literal resolves to itself without any lookup.
    const ip = parseIP(name);
    if (ip) return RSet.of([formatIP(ip.addr, ip.bits)]);
    if (!ctx.context.lookupIpAddr) throw builtinError('net.lookup_ip_addr', 'no resolver in the evaluation context (pass context.lookupIpAddr)');
    return RSet.of(ctx.context.lookupIpAddr(name));
  }),
  def('opa.runtime', 0, () => new RObject()),
  {
    ...def('print', 0, (a, ctx) => {
      ctx.context.print?.(a.map((v) => (typeof v === 'string' ? v : termString(v))).join(' '));
      return true;
    }),
    variadic: true,
  },
  def('trace', 1, (a, ctx) => {
    ctx.context.print?.(str('trace', a, 0));
    return true;
  }),
];
