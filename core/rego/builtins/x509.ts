/**
 * crypto.x509.* and crypto.parse_private_keys. Certificates are decoded into the subset of Go's
 * x509.Certificate JSON that policies use (names, validity, SANs, serial), not every Go field.
 */
import { builtinError } from '../errors';
import { normInt } from '../number';
import { RObject } from '../value';
import type { Value } from '../value';
import { str } from './args';
import { DerError, children, derInt, oid, readTLV } from './der';
import type { TLV } from './der';
import { base64Decode, base64Encode } from './encoding';
import { formatIP } from './net';
import { pemBlocks } from './keys';
import type { PemBlock } from './keys';
import { def } from './types';
import type { BuiltinDef } from './types';

const dec = new TextDecoder();

/** DER blocks from PEM text, base64 of PEM, or base64 of (concatenated) DER. */
function derBlocks(name: string, input: string, want: string[]): Uint8Array[] {
  let text = input;
  if (!text.trimStart().startsWith('-----BEGIN')) {
    const raw = base64Decode(text.replace(/\s+/g, ''), false, true);
    if (!raw) {
      const bad = /[^A-Za-z0-9+/=\s]/.exec(text);
      throw builtinError(name, `illegal base64 data at input byte ${bad ? bad.index : text.length - (text.length % 4)}`);
    }
    const decoded = dec.decode(raw);
    if (!decoded.trimStart().startsWith('-----BEGIN'))
      return splitDer(name, raw, want.includes('CERTIFICATE') ? 'x509: malformed certificate' : 'asn1: structure error: malformed DER');
    text = decoded;
  }
  let blocks: PemBlock[];
  try {
    blocks = pemBlocks(text);
  } catch {
    throw builtinError(name, 'failed to parse a PEM block');
  }
  const ders = blocks.filter((b) => want.includes(b.type)).map((b) => b.der);
  if (!ders.length) throw builtinError(name, 'failed to find a PEM block');
  return ders;
}

function splitDer(name: string, raw: Uint8Array, malformed: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  let off = 0;
  try {
    while (off < raw.length) {
      const t = readTLV(raw, off);
      out.push(t.raw);
      off = t.end;
    }
  } catch {
    throw builtinError(name, malformed);
  }
  return out;
}

const NAME_OIDS: Record<string, string> = {
  '2.5.4.6': 'Country',
  '2.5.4.10': 'Organization',
  '2.5.4.11': 'OrganizationalUnit',
  '2.5.4.7': 'Locality',
  '2.5.4.8': 'Province',
  '2.5.4.9': 'StreetAddress',
  '2.5.4.17': 'PostalCode',
};

function text(t: TLV): string {
  return t.tag === 0x1e
    ? String.fromCharCode(...Array.from({ length: t.body.length / 2 }, (_, i) => (t.body[2 * i]! << 8) | t.body[2 * i + 1]!))
    : dec.decode(t.body);
}

/** A pkix.Name as Go marshals it. */
function name(t: TLV): RObject {
  const lists: Record<string, string[]> = {};
  let cn = '';
  let serial = '';
  const names: Value[] = [];
  for (const rdn of children(t)) {
    for (const atv of children(rdn)) {
      const [o, v] = children(atv);
      const id = oid(o);
      const value = text(v!);
      names.push(RObject.fromRecord({ Type: id.split('.').map(Number), Value: value }));
      if (id === '2.5.4.3') cn = value;
      else if (id === '2.5.4.5') serial = value;
      else if (NAME_OIDS[id]) {
        const list = lists[NAME_OIDS[id]] ?? [];
        list.push(value);
        lists[NAME_OIDS[id]] = list;
      }
    }
  }
  const out = new RObject();
  for (const field of Object.values(NAME_OIDS)) out.set(field, lists[field] ?? null);
  out.set('SerialNumber', serial);
  out.set('CommonName', cn);
  out.set('Names', names);
  out.set('ExtraNames', null);
  return out;
}

function time(t: TLV): string {
  const s = dec.decode(t.body);
  const full = t.tag === 0x17 ? (Number(s.slice(0, 2)) >= 50 ? '19' : '20') + s : s;
  return `${full.slice(0, 4)}-${full.slice(4, 6)}-${full.slice(6, 8)}T${full.slice(8, 10)}:${full.slice(10, 12)}:${full.slice(12, 14)}Z`;
}

/** Subject alternative names: DNS, email, IP and URI entries. */
function sans(ext: TLV): Record<string, Value[]> {
  const out: Record<string, Value[]> = { DNSNames: [], EmailAddresses: [], IPAddresses: [], URIStrings: [] };
  for (const gn of children(readTLV(ext.body, 0))) {
    const kind = gn.tag & 0x1f;
    if (kind === 2) out.DNSNames!.push(dec.decode(gn.body));
    else if (kind === 1) out.EmailAddresses!.push(dec.decode(gn.body));
    else if (kind === 6) out.URIStrings!.push(dec.decode(gn.body));
    else if (kind === 7) {
      let v = 0n;
      for (const b of gn.body) v = (v << 8n) | BigInt(b);
      out.IPAddresses!.push(formatIP(v, gn.body.length === 4 ? 32 : 128));
    }
  }
  return out;
}

function certificate(der: Uint8Array): RObject {
  const cert = readTLV(der, 0);
  const [tbs] = children(cert);
  if (!tbs) throw new DerError('x509: malformed certificate');
  const f = children(tbs);
  const hasVersion = f[0]?.tag === 0xa0;
  const at = (i: number) => f[(hasVersion ? 1 : 0) + i];
  const version = hasVersion ? Number(derInt(children(f[0]!)[0])) + 1 : 1;
  const out = new RObject();
  out.set('Raw', base64Encode(cert.raw));
  out.set('Version', version);
  out.set('SerialNumber', normInt(derInt(at(0))));
  out.set('Issuer', name(at(2)!));
  const [nb, na] = children(at(3)!);
  out.set('NotBefore', time(nb!));
  out.set('NotAfter', time(na!));
  out.set('Subject', name(at(4)!));
  let alt: Record<string, Value[]> = {};
  const extsWrapper = f.find((x) => x.tag === 0xa3);
  if (extsWrapper) {
    for (const ext of children(children(extsWrapper)[0]!)) {
      const parts = children(ext);
      if (oid(parts[0]) === '2.5.29.17') alt = sans(parts[parts.length - 1]!);
    }
  }
  for (const k of ['DNSNames', 'EmailAddresses', 'IPAddresses', 'URIStrings']) out.set(k, alt[k]?.length ? alt[k]! : null);
  return out;
}

function certificateRequest(der: Uint8Array): RObject {
  const csr = readTLV(der, 0);
  const [info] = children(csr);
  if (!info) throw new DerError('asn1: structure error');
  const [version, subject] = children(info);
  const out = new RObject();
  out.set('Raw', base64Encode(csr.raw));
  out.set('Version', Number(derInt(version)));
  out.set('Subject', name(subject!));
  return out;
}

function b64url(v: bigint): string {
  let h = v.toString(16);
  if (h.length % 2) h = `0${h}`;
  return base64Encode(Uint8Array.from(h.match(/../g)!.map((x) => parseInt(x, 16))), true, false);
}

/** An RSA private key (PKCS#1, or PKCS#8 wrapping it) as a JWK. */
function rsaPrivateJwk(der: Uint8Array): RObject {
  let seq = readTLV(der, 0);
  let parts = children(seq);
  if (parts[1]?.tag === 0x30) {
    // PKCS#8: version, algorithm, OCTET STRING with the PKCS#1 key.
    seq = readTLV(parts[2]!.body, 0);
    parts = children(seq);
  }
  const [, n, e, d, p, q, dp, dq, qi] = parts.map((x) => (x.tag === 0x02 ? derInt(x) : 0n));
  return RObject.fromRecord({
    kty: 'RSA',
    n: b64url(n!),
    e: b64url(e!),
    d: b64url(d!),
    p: b64url(p!),
    q: b64url(q!),
    dp: b64url(dp!),
    dq: b64url(dq!),
    qi: b64url(qi!),
  });
}

function wrap<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof DerError)
      throw builtinError(name, e.message.startsWith('x509') || e.message.startsWith('asn1') ? e.message : 'x509: malformed certificate');
    throw e;
  }
}

/** Registry entries of this family. */
export const x509Builtins: BuiltinDef[] = [
  def('crypto.x509.parse_certificates', 1, (a) => {
    const n = 'crypto.x509.parse_certificates';
    return wrap(n, () => derBlocks(n, str(n, a, 0), ['CERTIFICATE']).map(certificate));
  }),
  def('crypto.x509.parse_certificate_request', 1, (a) => {
    const n = 'crypto.x509.parse_certificate_request';
    const blocks = derBlocks(n, str(n, a, 0), ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST']);
    try {
      return certificateRequest(blocks[0]!);
    } catch {
      throw builtinError(n, "asn1: structure error: tags don't match");
    }
  }),
  def('crypto.x509.parse_rsa_private_key', 1, (a) => {
    const n = 'crypto.x509.parse_rsa_private_key';
    const blocks = derBlocks(n, str(n, a, 0), ['RSA PRIVATE KEY', 'PRIVATE KEY']);
    return wrap(n, () => rsaPrivateJwk(blocks[0]!));
  }),
  def('crypto.parse_private_keys', 1, (a) => {
    const s = str('crypto.parse_private_keys', a, 0);
    if (s === '') return null;
    let blocks: PemBlock[];
    try {
      blocks = pemBlocks(
        s.trimStart().startsWith('-----BEGIN') ? s : dec.decode(base64Decode(s.replace(/\s+/g, ''), false, true) ?? new Uint8Array()),
      );
    } catch {
      return [];
    }
    const out: Value[] = [];
    for (const b of blocks) {
      if (b.type !== 'RSA PRIVATE KEY' && b.type !== 'PRIVATE KEY') continue;
      try {
        out.push(rsaPrivateJwk(b.der));
      } catch {
        // not an RSA key: skipped, as OPA skips keys it cannot parse
      }
    }
    return out;
  }),
  def('crypto.x509.parse_keypair', 2, (a) => {
    const n = 'crypto.x509.parse_keypair';
    const certs = derBlocks(n, str(n, a, 0), ['CERTIFICATE']);
    const keys = derBlocks(n, str(n, a, 1), ['RSA PRIVATE KEY', 'PRIVATE KEY', 'EC PRIVATE KEY']);
    if (!keys.length) throw builtinError(n, 'tls: failed to find any PEM data in key input');
    return RObject.fromRecord({ Certificate: certs.map((c) => base64Encode(c)), Leaf: null });
  }),
];
