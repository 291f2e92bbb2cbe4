/**
 * BLS12-381 verification in WebAssembly (herumi's mcl/bls, as shipped by the npm package
 * bls-eth-wasm), byte-for-byte compatible with core/attestation's @noble/curves code: public keys
 * in G1 (48-byte compressed), signatures in G2 (96-byte compressed), hash_to_curve RFC 9380
 * BLS12381G2_XMD:SHA-256_SSWU_RO_ under SIGNATURE_DST.
 *
 * The caller hands in a compiled `WebAssembly.Module` (in a Worker: `import mod from
 * './dist/bls_eth.wasm'`, see worker.ts; in Node: node.ts), because workerd refuses to compile
 * WebAssembly from bytes at run time.
 *
 * Key checks are those of core/attestation: a public key or signature decodes only if it is the
 * one canonical compressed encoding of a point on the curve, in the prime-order subgroup, and not
 * the identity; an aggregate key that sums to the identity never verifies.
 */
import { BlsKeyError, BlsSignatureError } from '../core/attestation/errors';

/** Domain separation tag of message signatures; the same as core/attestation's SIGNATURE_DST. */
export const WASM_SIGNATURE_DST = 'BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_';

/** A decoded, validated public key (or an aggregate of such keys) held as mcl's internal G1 point. */
export interface PublicKeyHandle {
  /** Brand: handles are only usable with the WasmBls instance that made them. */
  readonly [HANDLE_BRAND]: true;
}

/** What a public-key argument may be: compressed bytes (decoded and checked on each call) or a handle. */
export type PublicKeyInput = Uint8Array | PublicKeyHandle;

/** BLS verification backed by one WebAssembly instance. Not reentrant; JavaScript is single-threaded. */
export interface WasmBls {
  /**
   * Decodes and validates a 48-byte compressed G1 public key (canonical encoding, on the curve, in
   * the subgroup, not the identity); throws BlsKeyError('invalid_public_key') otherwise. The
   * handle is meant to be cached (e.g. per registry key in a Durable Object).
   */
  deserializePublicKey(bytes: Uint8Array): PublicKeyHandle;
  /** The 48-byte compressed encoding of a handle (for an aggregate handle: of the sum). */
  serializePublicKey(key: PublicKeyHandle): Uint8Array;
  /**
   * Sums public keys into one aggregate key (same-message aggregation; sound only for keys admitted
   * with a proof of possession). Throws BlsKeyError on an empty list or an invalid key. The sum may
   * be the identity: verification then refuses it.
   */
  aggregatePublicKeys(keys: readonly PublicKeyInput[]): PublicKeyHandle;
  /** Verifies one (possibly aggregate) signature over a message; malformed inputs yield false. */
  verify(publicKey: PublicKeyInput, message: Uint8Array, signature: Uint8Array): boolean;
  /**
   * FastAggregateVerify: sums the keys, then verifies the aggregate signature once. Malformed inputs,
   * an empty key list and an identity aggregate key yield false.
   */
  verifyAggregate(publicKeys: readonly PublicKeyInput[], message: Uint8Array, aggregateSignature: Uint8Array): boolean;
  /** True when `signature` decodes to a valid, non-identity G2 subgroup point in canonical encoding. */
  isValidSignature(signature: Uint8Array): boolean;
  /** Sums signatures on the same message into one 96-byte aggregate; throws BlsSignatureError like core/attestation. */
  aggregateSignatures(signatures: readonly Uint8Array[]): Uint8Array;
}

/** Options of createWasmBls. */
export interface WasmBlsOptions {
  /**
   * Verify a known-answer signature (made with @noble/curves) before returning, so a build with
   * another DST, hash-to-curve or encoding fails at start-up rather than refusing every attestation.
   * One verification (a few ms); default true.
   */
  selfTest?: boolean;
}

declare const HANDLE_BRAND: unique symbol;

// Sizes of mcl's BLS12-381 build (MCLBN_FP_UNIT_SIZE 6, MCLBN_FR_UNIT_SIZE 4; ETH variant).
const FP_BYTES = 48;
const G1_BYTES = FP_BYTES * 3; // Jacobian x, y, z
const G2_BYTES = FP_BYTES * 6;
const PUBLIC_KEY_BYTES = 48;
const SIGNATURE_BYTES = 96;
const CURVE_BLS12_381 = 5;
const MCLBN_COMPILED_TIME_VAR = 4 * 10 + 6 + 200; // + 200: the ETH (public keys in G1) build
const ETH_MODE_DRAFT_07 = 3; // hash_to_curve per RFC 9380, DST ..._POP_, ZCash point encoding
const MAP_TO_MODE_HASH_TO_CURVE = 5;
const STACK_MESSAGE_LIMIT = 16 * 1024; // longer messages go through malloc

/** The wasm exports used here (C signatures of herumi/bls's bls.h and mcl's bn.h; pointers are i32). */
interface BlsExports {
  memory?: WebAssembly.Memory;
  __wasm_call_ctors?: () => void;
  stackSave(): number;
  stackAlloc(size: number): number;
  stackRestore(sp: number): void;
  malloc(size: number): number;
  free(ptr: number): void;
  blsInit(curve: number, compiledTimeVar: number): number;
  blsSetETHmode(mode: number): number;
  mclBn_setMapToMode(mode: number): number;
  mclBn_setETHserialization(enable: number): void;
  mclBnG2_setDst(dst: number, dstSize: number): number;
  blsPublicKeyVerifyOrder(doVerify: number): void;
  blsSignatureVerifyOrder(doVerify: number): void;
  blsGetSerializedPublicKeyByteSize(): number;
  blsGetSerializedSignatureByteSize(): number;
  blsPublicKeyDeserialize(pub: number, buf: number, size: number): number;
  blsPublicKeySerialize(buf: number, maxSize: number, pub: number): number;
  blsPublicKeyIsZero(pub: number): number;
  blsPublicKeyIsValidOrder(pub: number): number;
  blsPublicKeyAdd(pub: number, rhs: number): void;
  blsSignatureDeserialize(sig: number, buf: number, size: number): number;
  blsSignatureSerialize(buf: number, maxSize: number, sig: number): number;
  blsSignatureIsZero(sig: number): number;
  blsSignatureIsValidOrder(sig: number): number;
  blsSignatureAdd(sig: number, rhs: number): void;
  blsVerify(sig: number, pub: number, msg: number, size: number): number;
}

const REQUIRED_EXPORTS: readonly (keyof BlsExports)[] = [
  'stackSave',
  'stackAlloc',
  'stackRestore',
  'malloc',
  'free',
  'blsInit',
  'blsSetETHmode',
  'mclBn_setMapToMode',
  'mclBn_setETHserialization',
  'mclBnG2_setDst',
  'blsPublicKeyVerifyOrder',
  'blsSignatureVerifyOrder',
  'blsGetSerializedPublicKeyByteSize',
  'blsGetSerializedSignatureByteSize',
  'blsPublicKeyDeserialize',
  'blsPublicKeySerialize',
  'blsPublicKeyIsZero',
  'blsPublicKeyIsValidOrder',
  'blsPublicKeyAdd',
  'blsSignatureDeserialize',
  'blsSignatureSerialize',
  'blsSignatureIsZero',
  'blsSignatureIsValidOrder',
  'blsSignatureAdd',
  'blsVerify',
];

// Known answer (Ethereum consensus-spec-tests bls/sign vector 0, also checked against @noble/curves
// in test/unit/attestation): secret key 0x263d…40e3 signs 32 zero bytes.
const KAT_PUBLIC_KEY = 'a491d1b0ecd9bb917989f0e74f0dea0422eac4a873e5e2644f368dffb9a6e20fd6e10c1b77654d067c0618f6e5a7f79a';
const KAT_SIGNATURE =
  'b6ed936746e01f8ecf281f020953fbf1f01debd5657c4a383940b020b26507f6076334f91e2366c96e9ab279fb5158090352ea1c5b0c9274504f4f0e7053af24802e51e4568d164fe986834f41e55c8e850ce1f98458c0cfc9ab380b55285a55';

/** A handle's state: mcl's G1 point bytes, and the instance that made it. */
class Handle {
  constructor(
    readonly owner: object,
    readonly point: Uint8Array,
  ) {}
}

/**
 * Instantiates the bls-eth-wasm module (a precompiled WebAssembly.Module of bls-wasm/dist/bls_eth.wasm)
 * and configures it for the POP ciphersuite. Each call makes an independent instance (its own memory).
 */
export async function createWasmBls(module: WebAssembly.Module, options: WasmBlsOptions = {}): Promise<WasmBls> {
  if (!(module instanceof WebAssembly.Module)) throw new TypeError('createWasmBls needs a compiled WebAssembly.Module');
  const memory = new WebAssembly.Memory({ initial: 32 });
  const imports: WebAssembly.Imports = {
    env: {
      memory,
      // Declared by some builds of the glue; verification never draws randomness.
      cryptoGetRandomValues: () => {
        throw new Error('bls-wasm: randomness is not available');
      },
    },
  };
  const instance = await WebAssembly.instantiate(module, imports);
  const raw = instance.exports as unknown as BlsExports;
  for (const name of REQUIRED_EXPORTS) {
    if (typeof raw[name] !== 'function') throw new Error(`bls-wasm: the WebAssembly module lacks the export ${name}`);
  }
  const bls = new WasmBlsImpl(raw, memory);
  if (options.selfTest ?? true) bls.selfTest();
  return bls;
}

class WasmBlsImpl implements WasmBls {
  private heap: Uint8Array;

  constructor(
    private readonly x: BlsExports,
    private readonly memory: WebAssembly.Memory,
  ) {
    this.heap = new Uint8Array(memory.buffer);
    x.__wasm_call_ctors?.();
    const init = x.blsInit(CURVE_BLS12_381, MCLBN_COMPILED_TIME_VAR);
    if (init !== 0) throw new Error(`bls-wasm: blsInit failed (${init})`);
    if (x.blsSetETHmode(ETH_MODE_DRAFT_07) !== 0) throw new Error('bls-wasm: blsSetETHmode failed');
    // Set what the ciphersuite needs explicitly rather than trusting the ETH mode's defaults.
    if (x.mclBn_setMapToMode(MAP_TO_MODE_HASH_TO_CURVE) !== 0) throw new Error('bls-wasm: mclBn_setMapToMode failed');
    x.mclBn_setETHserialization(1);
    // The DST lives on the heap for the instance's lifetime, in case mcl keeps the pointer.
    const dst = new TextEncoder().encode(WASM_SIGNATURE_DST);
    const dstPtr = x.malloc(dst.length);
    if (dstPtr === 0) throw new Error('bls-wasm: out of memory');
    this.mem().set(dst, dstPtr);
    if (x.mclBnG2_setDst(dstPtr, dst.length) !== 0) throw new Error('bls-wasm: mclBnG2_setDst failed');
    // Deserialization checks subgroup membership (off by default in mcl for speed).
    x.blsPublicKeyVerifyOrder(1);
    x.blsSignatureVerifyOrder(1);
    if (x.blsGetSerializedPublicKeyByteSize() !== PUBLIC_KEY_BYTES || x.blsGetSerializedSignatureByteSize() !== SIGNATURE_BYTES) {
      throw new Error('bls-wasm: unexpected point sizes (not the BLS12-381 ETH build of bls-eth-wasm)');
    }
  }

  selfTest(): void {
    const ok = this.verify(fromHex(KAT_PUBLIC_KEY), new Uint8Array(32), fromHex(KAT_SIGNATURE));
    const tampered = this.verify(fromHex(KAT_PUBLIC_KEY), Uint8Array.of(1, ...new Uint8Array(31)), fromHex(KAT_SIGNATURE));
    if (!ok || tampered) throw new Error('bls-wasm: known-answer self-test failed (ciphersuite mismatch)');
  }

  deserializePublicKey(bytes: Uint8Array): PublicKeyHandle {
    return this.withStack(() => {
      const p = this.x.stackAlloc(G1_BYTES);
      this.loadPublicKey(bytes, p);
      return this.handle(p);
    });
  }

  serializePublicKey(key: PublicKeyHandle): Uint8Array {
    return this.withStack(() => {
      const p = this.x.stackAlloc(G1_BYTES);
      this.mem().set(this.unwrap(key).point, p);
      const out = this.x.stackAlloc(PUBLIC_KEY_BYTES);
      if (this.x.blsPublicKeySerialize(out, PUBLIC_KEY_BYTES, p) !== PUBLIC_KEY_BYTES) throw new Error('bls-wasm: serialization failed');
      return this.mem().slice(out, out + PUBLIC_KEY_BYTES);
    });
  }

  aggregatePublicKeys(keys: readonly PublicKeyInput[]): PublicKeyHandle {
    if (keys.length === 0) throw new BlsKeyError('invalid_public_key', 'no public keys to aggregate');
    return this.withStack(() => this.handle(this.sumPublicKeys(keys)));
  }

  verify(publicKey: PublicKeyInput, message: Uint8Array, signature: Uint8Array): boolean {
    return this.verifyAggregate([publicKey], message, signature);
  }

  verifyAggregate(publicKeys: readonly PublicKeyInput[], message: Uint8Array, aggregateSignature: Uint8Array): boolean {
    if (publicKeys.length === 0 || !(message instanceof Uint8Array)) return false;
    const sp = this.x.stackSave();
    let heapMessage = 0;
    try {
      const sig = this.x.stackAlloc(G2_BYTES);
      if (!this.tryLoadSignature(aggregateSignature, sig)) return false;
      let pub: number;
      try {
        pub = this.sumPublicKeys(publicKeys);
      } catch {
        return false;
      }
      // An identity aggregate key (e.g. pk + (-pk)) pairs to 1 with anything; never accept it.
      if (this.x.blsPublicKeyIsZero(pub) !== 0) return false;
      let msg: number;
      if (message.length <= STACK_MESSAGE_LIMIT) {
        msg = this.put(message);
      } else {
        msg = heapMessage = this.x.malloc(message.length);
        if (msg === 0) return false;
        this.mem().set(message, msg);
      }
      return this.x.blsVerify(sig, pub, msg, message.length) === 1;
    } finally {
      if (heapMessage !== 0) this.x.free(heapMessage);
      this.x.stackRestore(sp);
    }
  }

  isValidSignature(signature: Uint8Array): boolean {
    return this.withStack(() => this.tryLoadSignature(signature, this.x.stackAlloc(G2_BYTES)));
  }

  aggregateSignatures(signatures: readonly Uint8Array[]): Uint8Array {
    if (signatures.length === 0) throw new BlsSignatureError('empty_aggregate', 'no signatures to aggregate');
    return this.withStack(() => {
      const sum = this.x.stackAlloc(G2_BYTES);
      const tmp = this.x.stackAlloc(G2_BYTES);
      signatures.forEach((signature, i) => {
        if (!this.tryLoadSignature(signature, i === 0 ? sum : tmp)) {
          throw new BlsSignatureError('invalid_signature_encoding', 'signature is not a canonical non-identity G2 subgroup point');
        }
        if (i > 0) this.x.blsSignatureAdd(sum, tmp);
      });
      if (this.x.blsSignatureIsZero(sum) !== 0) throw new BlsSignatureError('empty_aggregate', 'aggregate signature is the identity');
      const out = this.x.stackAlloc(SIGNATURE_BYTES);
      if (this.x.blsSignatureSerialize(out, SIGNATURE_BYTES, sum) !== SIGNATURE_BYTES) throw new Error('bls-wasm: serialization failed');
      return this.mem().slice(out, out + SIGNATURE_BYTES);
    });
  }

  /** Sums keys into a stack-allocated G1 point (callers restore the stack); throws on an invalid key. */
  private sumPublicKeys(keys: readonly PublicKeyInput[]): number {
    const sum = this.x.stackAlloc(G1_BYTES);
    const tmp = keys.length > 1 ? this.x.stackAlloc(G1_BYTES) : 0;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const target = i === 0 ? sum : tmp;
      if (key instanceof Uint8Array) this.loadPublicKey(key, target);
      else this.mem().set(this.unwrap(key).point, target);
      if (i > 0) this.x.blsPublicKeyAdd(sum, tmp);
    }
    return sum;
  }

  /** Decodes a compressed key into the G1 point at `p` with every check of core/attestation's decodePublicKey. */
  private loadPublicKey(bytes: Uint8Array, p: number): void {
    if (!(bytes instanceof Uint8Array) || bytes.length !== PUBLIC_KEY_BYTES) {
      throw new BlsKeyError('invalid_public_key', 'public key must be 48 compressed bytes');
    }
    const sp = this.x.stackSave();
    try {
      const buf = this.put(bytes);
      // With blsPublicKeyVerifyOrder(1) the decoder refuses points off the curve and outside the subgroup.
      if (this.x.blsPublicKeyDeserialize(p, buf, PUBLIC_KEY_BYTES) !== PUBLIC_KEY_BYTES) {
        throw new BlsKeyError('invalid_public_key', 'public key is not a valid G1 point');
      }
      if (this.x.blsPublicKeyIsZero(p) !== 0) throw new BlsKeyError('invalid_public_key', 'public key is the identity');
      // Only the one canonical encoding of a key is accepted, whatever the decoder tolerates.
      const out = this.x.stackAlloc(PUBLIC_KEY_BYTES);
      if (this.x.blsPublicKeySerialize(out, PUBLIC_KEY_BYTES, p) !== PUBLIC_KEY_BYTES || !this.equalAt(out, bytes)) {
        throw new BlsKeyError('invalid_public_key', 'public key encoding is not canonical');
      }
    } finally {
      this.x.stackRestore(sp);
    }
  }

  /** Decodes a compressed signature into the G2 point at `p`; false unless canonical, in the subgroup and not the identity. */
  private tryLoadSignature(bytes: Uint8Array, p: number): boolean {
    if (!(bytes instanceof Uint8Array) || bytes.length !== SIGNATURE_BYTES) return false;
    const sp = this.x.stackSave();
    try {
      const buf = this.put(bytes);
      if (this.x.blsSignatureDeserialize(p, buf, SIGNATURE_BYTES) !== SIGNATURE_BYTES) return false;
      if (this.x.blsSignatureIsZero(p) !== 0) return false;
      const out = this.x.stackAlloc(SIGNATURE_BYTES);
      return this.x.blsSignatureSerialize(out, SIGNATURE_BYTES, p) === SIGNATURE_BYTES && this.equalAt(out, bytes);
    } finally {
      this.x.stackRestore(sp);
    }
  }

  private handle(p: number): PublicKeyHandle {
    return new Handle(this, this.mem().slice(p, p + G1_BYTES)) as unknown as PublicKeyHandle;
  }

  private unwrap(key: PublicKeyHandle): Handle {
    if (!(key instanceof Handle) || key.owner !== this) {
      throw new BlsKeyError('invalid_public_key', 'public key handle was made by another WasmBls instance');
    }
    return key;
  }

  private withStack<T>(fn: () => T): T {
    const sp = this.x.stackSave();
    try {
      return fn();
    } finally {
      this.x.stackRestore(sp);
    }
  }

  /** Copies bytes onto the wasm stack; returns their address. */
  private put(bytes: Uint8Array): number {
    const p = this.x.stackAlloc(bytes.length);
    this.mem().set(bytes, p);
    return p;
  }

  private equalAt(p: number, bytes: Uint8Array): boolean {
    const mem = this.mem();
    let diff = 0;
    for (let i = 0; i < bytes.length; i++) diff |= mem[p + i]! ^ bytes[i]!;
    return diff === 0;
  }

  /** The memory view, renewed after memory.grow() detached the previous buffer. */
  private mem(): Uint8Array {
    if (this.heap.byteLength === 0) this.heap = new Uint8Array(this.memory.buffer);
    return this.heap;
  }
}

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
