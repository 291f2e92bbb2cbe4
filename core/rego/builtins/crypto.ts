/** crypto.* hashes and HMACs (synchronous, @noble/hashes). */
import { hmac } from '@noble/hashes/hmac.js';
import { md5, sha1 } from '@noble/hashes/legacy.js';
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js';
import type { CHash } from '@noble/hashes/utils.js';
import { str } from './args';
import { def } from './types';
import type { BuiltinDef } from './types';

const enc = new TextEncoder();

/** Lowercase hex of bytes. */
export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

type Hash = CHash;

function digest(name: string, h: Hash): BuiltinDef {
  return def(name, 1, (a) => toHex(h(enc.encode(str(name, a, 0)))));
}

function mac(name: string, h: Hash): BuiltinDef {
  return def(name, 2, (a) => toHex(hmac(h, enc.encode(str(name, a, 1)), enc.encode(str(name, a, 0)))));
}

/** Constant-time string comparison. */
function constantTimeEqual(a: string, b: string): boolean {
  const x = enc.encode(a);
  const y = enc.encode(b);
  if (x.length !== y.length) return false;
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ y[i]!;
  return diff === 0;
}

/** Registry entries of this family. */
export const cryptoBuiltins: BuiltinDef[] = [
  digest('crypto.md5', md5),
  digest('crypto.sha1', sha1),
  digest('crypto.sha256', sha256),
  digest('crypto.sha384', sha384),
  digest('crypto.sha512', sha512),
  mac('crypto.hmac.md5', md5),
  mac('crypto.hmac.sha1', sha1),
  mac('crypto.hmac.sha256', sha256),
  mac('crypto.hmac.sha512', sha512),
  def('crypto.hmac.equal', 2, (a) => constantTimeEqual(str('crypto.hmac.equal', a, 0), str('crypto.hmac.equal', a, 1))),
];
