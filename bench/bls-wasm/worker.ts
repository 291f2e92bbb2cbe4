import { blsWasmModule, getWasmBls, getWasmBlsVerifier } from '../../bls-wasm/worker';
import { createWasmBls, type PublicKeyHandle } from '../../bls-wasm';
import { decodePublicKey, type G1Point } from '../../core/attestation/bls-keys';
import { aggregatePublicKeys, verifySignature } from '../../core/attestation/bls-signatures';
import type { OperatorRegistry } from '../../core/attestation/operator-registry';
import { verifyAttestation } from '../../core/attestation/verify-attestation';

// A bench-only Worker (bench/bls-wasm/run.ts): BLS verification inside workerd, the WebAssembly path
// (bls-wasm) and the pure-JS path the gateway uses today (core/attestation, @noble/curves), on the
// keys and signatures the runner sends. Each sample is the mean of `batch` calls (workerd's clock
// has 1 ms steps).

export interface BenchCase {
  name: string;
  samples: number;
  batch: number;
  warmup: number;
}

export interface BenchRequest {
  publicKeys: string[];
  message: string;
  signature: string; // by publicKeys[0]
  aggregate: string; // by all of publicKeys
  /** An attestation signed by all of publicKeys, its registry snapshot and its policy's quorum. */
  attestation: unknown;
  registry: OperatorRegistry;
  policyThresholdBps: number;
  now: number;
  cases: BenchCase[];
}

export interface BenchReply {
  samples: Record<string, number[]>;
  instantiateMs: number;
  /** The whole request by workerd's clock, for the runner to compare with its own wall clock. */
  elapsedMs: number;
}

const hex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g) ?? [], (b) => Number.parseInt(b, 16));

export default {
  async fetch(request: Request): Promise<Response> {
    if (request.method !== 'POST') return new Response('bls-wasm bench Worker\n');
    const req = (await request.json()) as BenchRequest;
    const start = performance.now();
    const bls = await getWasmBls();
    const instantiateMs = performance.now() - start;
    const keys = req.publicKeys.map(hex);
    const message = hex(req.message);
    const signature = hex(req.signature);
    const aggregate = hex(req.aggregate);
    const handles: PublicKeyHandle[] = keys.map((k) => bls.deserializePublicKey(k));
    const points: G1Point[] = keys.map(decodePublicKey);
    const expect = (ok: boolean, what: string): void => {
      if (!ok) throw new Error(`${what} did not verify`);
    };
    // The gateway's own path (POST /v1/attestations/verify): verifyAttestation with the isolate's cached WebAssembly verifier.
    const wasmVerifier = await getWasmBlsVerifier();
    const attestationOptions = { now: BigInt(req.now), policyThresholdBps: req.policyThresholdBps };

    const work: Record<string, () => unknown> = {
      'wasm.verify': () => expect(bls.verify(keys[0]!, message, signature), 'wasm.verify'),
      'wasm.aggregate.bytes': () => expect(bls.verifyAggregate(keys, message, aggregate), 'wasm.aggregate.bytes'),
      'wasm.aggregate.cached': () => expect(bls.verifyAggregate(handles, message, aggregate), 'wasm.aggregate.cached'),
      'wasm.deserialize.all': () => keys.map((k) => bls.deserializePublicKey(k)),
      'wasm.instantiate': () => createWasmBls(blsWasmModule, { selfTest: false }),
      'noble.verify': () => expect(verifySignature(keys[0]!, message, signature), 'noble.verify'),
      'noble.aggregate.bytes': () => expect(verifySignature(aggregatePublicKeys(keys), message, aggregate), 'noble.aggregate.bytes'),
      'noble.deserialize.all': () => keys.map(decodePublicKey),
      'noble.aggregate.cached': () => expect(verifySignature(aggregatePublicKeys(points), message, aggregate), 'noble.aggregate.cached'),
      'wasm.attestation': () =>
        expect(verifyAttestation(req.attestation, req.registry, { ...attestationOptions, verifier: wasmVerifier }).valid, 'wasm.attestation'),
      'noble.attestation': () => expect(verifyAttestation(req.attestation, req.registry, attestationOptions).valid, 'noble.attestation'),
    };
    const samples: Record<string, number[]> = {};
    for (const c of req.cases) {
      const fn = work[c.name];
      if (!fn) return new Response(`unknown case ${c.name}`, { status: 400 });
      for (let i = 0; i < c.warmup; i++) await fn();
      const out: number[] = [];
      for (let i = 0; i < c.samples; i++) {
        const t0 = performance.now();
        for (let j = 0; j < c.batch; j++) await fn();
        out.push((performance.now() - t0) / c.batch);
      }
      samples[c.name] = out;
    }
    return Response.json({ samples, instantiateMs, elapsedMs: performance.now() - start } satisfies BenchReply);
  },
};
