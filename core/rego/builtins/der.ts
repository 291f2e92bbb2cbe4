/** Minimal DER (ASN.1) reader for keys, certificates and certificate requests. */

/** Malformed DER input. */
export class DerError extends Error {
  override name = 'DerError';
}

/** One DER element: its tag, its content, and its full encoding (signatures cover the raw bytes). */
export type TLV = { tag: number; body: Uint8Array; raw: Uint8Array };

/** Reads one tag-length-value at `off`. */
export function readTLV(b: Uint8Array, off: number): TLV & { end: number } {
  const tag = b[off];
  let len = b[off + 1];
  if (tag === undefined || len === undefined) throw new DerError('malformed DER');
  let p = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new DerError('malformed DER');
    len = 0;
    for (let i = 0; i < n; i++) len = (len << 8) | b[p + i]!;
    p += n;
  }
  if (p + len > b.length) throw new DerError('malformed DER');
  return { tag, body: b.subarray(p, p + len), raw: b.subarray(off, p + len), end: p + len };
}

/** The TLVs inside a constructed TLV. */
export function children(t: TLV): TLV[] {
  const out: TLV[] = [];
  let off = 0;
  while (off < t.body.length) {
    const c = readTLV(t.body, off);
    out.push(c);
    off = c.end;
  }
  return out;
}

/** An INTEGER as a BigInt. */
export function derInt(t: TLV | undefined): bigint {
  if (t?.tag !== 0x02) throw new DerError('malformed DER integer');
  let v = 0n;
  for (const x of t.body) v = (v << 8n) | BigInt(x);
  return v;
}

/** An OBJECT IDENTIFIER in dotted form. */
export function oid(t: TLV | undefined): string {
  if (t?.tag !== 0x06) throw new DerError('malformed DER OID');
  const b = t.body;
  const parts = [Math.floor(b[0]! / 40), b[0]! % 40];
  let v = 0;
  for (let i = 1; i < b.length; i++) {
    v = v * 128 + (b[i]! & 0x7f);
    if (!(b[i]! & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}
