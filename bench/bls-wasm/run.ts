/**
 * `node_modules/.bin/node --import tsx bench/bls-wasm/run.ts [--iterations N]`
 *
 * BLS verification of one signature and of a 100-signer same-message aggregate, in one run:
 * - native blst (@chainsafe/blst, a prebuilt N-API binding) in Node: the baseline;
 * - @noble/curves (core/attestation) in Node and inside workerd (the gateway's path today);
 * - bls-wasm (herumi mcl/bls from bls-eth-wasm, WebAssembly) in Node and inside workerd
 *   (wrangler dev --local, bench/bls-wasm/worker.ts), with public keys decompressed on every call
 *   and with decompressed keys cached (what a Durable Object can hold).
 * "keys from bytes": the 100 48-byte compressed keys are decompressed and subgroup-checked on each
 * call, then summed, then one signature check (signature decoded and subgroup-checked, hash to G2,
 * pairing). "cached keys": decoded keys are summed, then the same signature check.
 * "verifyAttestation": the whole check the gateway's verify endpoint runs on a 100-signer
 * attestation (schema, intent hash, digest, signer set, stakes, quorum, aggregate signature), with
 * the isolate's cached WebAssembly verifier (getWasmBlsVerifier) or @noble/curves.
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as blst from '@chainsafe/blst';
import { bytesToHex, hexToBytes, type Hex } from 'viem';
import { ProcessGroup } from '../../local-stack/process-group';
import { startBenchWorker } from '../bench-worker';
import {
  admitOperator,
  aggregatePublicKeys,
  aggregateSignatures,
  assembleAttestation,
  createProofOfPossession,
  decodePublicKey,
  emptyRegistry,
  generateKeyPair,
  requestDigest,
  signMessage,
  verifyAttestation,
  verifySignature,
  type Attestation,
  type AttestationRequest,
  type BlsKeyPair,
  type OperatorRegistry,
} from '../../core/attestation';
import { createCachedBlsVerifier } from '../../bls-wasm';
import { loadWasmBls } from '../../bls-wasm/node';
import type { BenchCase, BenchReply, BenchRequest } from './worker';

const SIGNERS = 100;
const TARGET_RATIO = 5;

type Row = 'single' | 'aggBytes' | 'aggCached' | 'decompress' | 'attestation';
type Column = 'native' | 'nobleNode' | 'wasmNode' | 'nobleWorkerd' | 'wasmWorkerd';
type Results = Partial<Record<Column, Partial<Record<Row, number[]>>>>;

const ROWS: [Row, string][] = [
  ['single', 'one signature (key + signature from bytes)'],
  ['aggBytes', `${SIGNERS}-signer aggregate, keys from bytes`],
  ['aggCached', `${SIGNERS}-signer aggregate, cached keys`],
  ['decompress', `decompress + check ${SIGNERS} keys (cache fill)`],
  ['attestation', `verifyAttestation, ${SIGNERS} signers (keys cached)`],
];
const COLUMNS: [Column, string][] = [
  ['native', 'native blst'],
  ['nobleNode', 'noble Node'],
  ['wasmNode', 'wasm Node'],
  ['nobleWorkerd', 'noble workerd'],
  ['wasmWorkerd', 'wasm workerd'],
];

function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Milliseconds per call: `samples` samples, each the mean of `batch` calls, after `warmup` calls. */
function time(fn: () => unknown, samples: number, batch = 1, warmup = 3): number[] {
  for (let i = 0; i < warmup; i++) fn();
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const start = performance.now();
    for (let j = 0; j < batch; j++) fn();
    out.push((performance.now() - start) / batch);
  }
  return out;
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`${what}: the benchmark signature does not verify`);
}

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const POLICY_THRESHOLD_BPS = 6700;
const NOW = 1_800_000_000;

/** A 100-signer intent attestation (every key signed) and its registry snapshot: what the gateway's verify endpoint checks. */
function benchAttestation(keys: readonly BlsKeyPair[]): { attestation: Attestation; registry: OperatorRegistry } {
  const registryAddress = '0x00000000000000000000000000000000000000e9';
  let registry = emptyRegistry(registryAddress, 1);
  keys.forEach((key, i) => {
    registry = admitOperator(registry, {
      id: `op-${i}`,
      blsPublicKey: bytesToHex(key.publicKey),
      proofOfPossession: bytesToHex(createProofOfPossession(key.secretKey)),
      stake: 1n,
    });
  });
  const request: AttestationRequest = {
    taskId: `0x${'0a'.repeat(32)}`,
    policyId: `0x${'0b'.repeat(32)}`,
    policyClient: '0x00000000000000000000000000000000000000c1',
    chainId: 31337,
    intent: {
      from: '0x1111111111111111111111111111111111111111',
      to: '0x2222222222222222222222222222222222222222',
      value: '1000',
      data: '0x',
      chainId: 31337,
    },
    allowed: true,
    reasons: [],
    policyDataHash: `0x${'00'.repeat(32)}`,
    expiration: NOW + 3600,
    thresholdBps: POLICY_THRESHOLD_BPS,
    registry: registryAddress,
    registryBlock: 1,
  };
  const digest = requestDigest(request);
  const signatures = keys.map((key, i) => ({ operatorId: `op-${i}`, signature: bytesToHex(signMessage(key.secretKey, hexToBytes(digest))) as Hex }));
  // Stakes as strings: the snapshot travels to the bench Worker as JSON.
  const attestation = assembleAttestation(request, signatures, registry);
  return { attestation, registry: { ...registry, operators: registry.operators.map((o) => ({ ...o, stake: String(o.stake) })) } };
}

/** Runs the benchmark and prints the table; returns the results (ms per call samples). */
export async function benchBlsWasm(iterations = 30): Promise<Results> {
  const n = Math.max(5, iterations);
  const keys = Array.from({ length: SIGNERS }, (_, i) => generateKeyPair(new Uint8Array(32).map((_, j) => (i * 31 + j + 1) & 0xff)));
  const message = new Uint8Array(32).map((_, i) => (i * 7 + 3) & 0xff); // an attestation digest's size
  const signatures = keys.map((k) => signMessage(k.secretKey, message));
  const aggregate = aggregateSignatures(signatures);
  const pkBytes = keys.map((k) => k.publicKey);
  const { attestation, registry } = benchAttestation(keys);
  const attestationOptions = { now: BigInt(NOW), policyThresholdBps: POLICY_THRESHOLD_BPS };
  const r: Results = {};

  // Native blst: validation flags on, as in the other paths (keys: subgroup + not infinity; signatures: subgroup + not infinity).
  {
    const cachedKeys = pkBytes.map((b) => blst.PublicKey.fromBytes(b, true));
    const single = (): boolean =>
      blst.verify(message, blst.PublicKey.fromBytes(pkBytes[0]!, true), blst.Signature.fromBytes(signatures[0]!, true, true));
    const aggBytes = (): boolean =>
      blst.verify(message, blst.aggregateSerializedPublicKeys(pkBytes, true), blst.Signature.fromBytes(aggregate, true, true));
    const aggCached = (): boolean => blst.verify(message, blst.aggregatePublicKeys(cachedKeys), blst.Signature.fromBytes(aggregate, true, true));
    check(single() && aggBytes() && aggCached(), 'native blst');
    r.native = {
      single: time(single, n * 10, 1, 20),
      aggBytes: time(aggBytes, n * 4, 1, 10),
      aggCached: time(aggCached, n * 10, 1, 20),
      decompress: time(() => pkBytes.map((b) => blst.PublicKey.fromBytes(b, true)), n * 4, 1, 10),
    };
  }

  // @noble/curves in Node (core/attestation: the gateway's code).
  {
    const points = pkBytes.map(decodePublicKey);
    const single = (): boolean => verifySignature(pkBytes[0]!, message, signatures[0]!);
    const aggBytes = (): boolean => verifySignature(aggregatePublicKeys(pkBytes), message, aggregate);
    const aggCached = (): boolean => verifySignature(aggregatePublicKeys(points), message, aggregate);
    check(single() && aggBytes() && aggCached(), 'noble');
    const runs = Math.max(5, Math.min(n, 15));
    const attestationCheck = (): boolean => verifyAttestation(attestation, registry, attestationOptions).valid;
    check(attestationCheck(), 'noble verifyAttestation');
    r.nobleNode = {
      single: time(single, runs, 1, 2),
      aggBytes: time(aggBytes, runs, 1, 2),
      aggCached: time(aggCached, runs, 1, 2),
      decompress: time(() => pkBytes.map(decodePublicKey), runs, 1, 2),
      attestation: time(attestationCheck, runs, 1, 2),
    };
  }

  // bls-wasm in Node (the same .wasm file, compiled by Node's V8).
  {
    const bls = await loadWasmBls();
    const handles = pkBytes.map((b) => bls.deserializePublicKey(b));
    const single = (): boolean => bls.verify(pkBytes[0]!, message, signatures[0]!);
    const aggBytes = (): boolean => bls.verifyAggregate(pkBytes, message, aggregate);
    const aggCached = (): boolean => bls.verifyAggregate(handles, message, aggregate);
    check(single() && aggBytes() && aggCached(), 'bls-wasm (Node)');
    const verifier = createCachedBlsVerifier(bls);
    const attestationCheck = (): boolean => verifyAttestation(attestation, registry, { ...attestationOptions, verifier }).valid;
    check(attestationCheck(), 'wasm verifyAttestation');
    r.wasmNode = {
      single: time(single, n, 1, 5),
      aggBytes: time(aggBytes, n, 1, 3),
      aggCached: time(aggCached, n, 1, 5),
      decompress: time(() => pkBytes.map((b) => bls.deserializePublicKey(b)), n, 1, 3),
      attestation: time(attestationCheck, n, 1, 5),
    };
  }

  // Inside workerd: the bench Worker times batches (workerd's clock has 1 ms steps).
  const group = new ProcessGroup();
  const url = await startBenchWorker(group, 'bls-wasm', 'bench/bls-wasm/wrangler.toml');
  let instantiateMs = Number.NaN;
  let warmInstantiateMs = Number.NaN;
  const clock = { workerd: 0, wall: 0 }; // workerd's clock only moves in 1 ms steps: check it kept up
  try {
    const post = async (cases: BenchCase[]): Promise<BenchReply> => {
      const body: BenchRequest = {
        publicKeys: pkBytes.map(toHex),
        message: toHex(message),
        signature: toHex(signatures[0]!),
        aggregate: toHex(aggregate),
        attestation,
        registry,
        policyThresholdBps: POLICY_THRESHOLD_BPS,
        now: NOW,
        cases,
      };
      const t0 = performance.now();
      const res = await fetch(url, { method: 'POST', body: JSON.stringify(body) });
      if (!res.ok) throw new Error(`bench Worker: ${res.status} ${await res.text()}`);
      const reply = (await res.json()) as BenchReply;
      clock.workerd += reply.elapsedMs;
      clock.wall += performance.now() - t0;
      return reply;
    };
    const s = Math.max(5, Math.min(n, 15));
    const first = await post([]);
    instantiateMs = first.instantiateMs;
    const wasm = await post([
      { name: 'wasm.verify', samples: s, batch: 10, warmup: 5 },
      { name: 'wasm.aggregate.cached', samples: s, batch: 10, warmup: 5 },
      { name: 'wasm.aggregate.bytes', samples: s, batch: 3, warmup: 2 },
      { name: 'wasm.deserialize.all', samples: s, batch: 3, warmup: 2 },
      { name: 'wasm.instantiate', samples: 5, batch: 5, warmup: 1 },
      { name: 'wasm.attestation', samples: s, batch: 5, warmup: 3 },
    ]);
    warmInstantiateMs = percentile(wasm.samples['wasm.instantiate']!, 50);
    const noble = await post([
      { name: 'noble.verify', samples: Math.min(s, 10), batch: 2, warmup: 2 },
      { name: 'noble.aggregate.cached', samples: Math.min(s, 10), batch: 2, warmup: 2 },
      { name: 'noble.aggregate.bytes', samples: Math.min(s, 8), batch: 1, warmup: 1 },
      { name: 'noble.deserialize.all', samples: Math.min(s, 8), batch: 1, warmup: 1 },
      { name: 'noble.attestation', samples: Math.min(s, 8), batch: 1, warmup: 1 },
    ]);
    r.wasmWorkerd = {
      single: wasm.samples['wasm.verify'],
      aggCached: wasm.samples['wasm.aggregate.cached'],
      aggBytes: wasm.samples['wasm.aggregate.bytes'],
      decompress: wasm.samples['wasm.deserialize.all'],
      attestation: wasm.samples['wasm.attestation'],
    };
    r.nobleWorkerd = {
      single: noble.samples['noble.verify'],
      aggCached: noble.samples['noble.aggregate.cached'],
      aggBytes: noble.samples['noble.aggregate.bytes'],
      decompress: noble.samples['noble.deserialize.all'],
      attestation: noble.samples['noble.attestation'],
    };
  } finally {
    await group.stopAll();
  }

  const p50 = (c: Column, row: Row): number | undefined => {
    const samples = r[c]?.[row];
    return samples?.length ? percentile(samples, 50) : undefined;
  };
  const W = 44;
  const out = process.stdout;
  const table = (title: string, stat: (samples: readonly number[]) => number): void => {
    const value = (c: Column, row: Row): number | undefined => {
      const samples = r[c]?.[row];
      return samples?.length ? stat(samples) : undefined;
    };
    out.write(`\n${title}; (×) = ratio to native blst on the same row\n`);
    out.write(`${''.padEnd(W)}${COLUMNS.map(([, label]) => label.padStart(20)).join('')}\n`);
    for (const [row, label] of ROWS) {
      const base = value('native', row);
      out.write(
        `${label.padEnd(W)}${COLUMNS.map(([c]) => {
          const v = value(c, row);
          return (v === undefined ? '—' : `${v.toFixed(2)}${base ? ` (${(v / base).toFixed(1)}×)` : ''}`).padStart(20);
        }).join('')}\n`,
      );
    }
  };
  table('BLS12-381 verification (POP ciphersuite), p50 ms per call', (s) => percentile(s, 50));
  table('the same, minimum ms per call (least disturbed by other load on the machine)', (s) => Math.min(...s));
  const target = p50('wasmWorkerd', 'aggCached');
  const nativeAgg = p50('native', 'aggBytes');
  const nativeAggCached = p50('native', 'aggCached');
  if (target !== undefined && nativeAgg !== undefined && nativeAggCached !== undefined) {
    const ratio = target / nativeAgg;
    out.write(
      `\ntarget: wasm in workerd, ${SIGNERS}-signer aggregate with cached keys ≤ ${TARGET_RATIO}× native blst's ${SIGNERS}-signer aggregate ` +
        `(keys from bytes, ${nativeAgg.toFixed(2)} ms): ${target.toFixed(2)} ms = ${ratio.toFixed(2)}× → ${ratio <= TARGET_RATIO ? 'MET' : 'NOT MET'}\n`,
    );
    const min = (c: Column, row: Row): number => Math.min(...(r[c]?.[row] ?? [Number.NaN]));
    out.write(
      `  by minima: ${min('wasmWorkerd', 'aggCached').toFixed(2)} / ${min('native', 'aggBytes').toFixed(2)} ms = ` +
        `${(min('wasmWorkerd', 'aggCached') / min('native', 'aggBytes')).toFixed(2)}×; against native with cached keys too: ` +
        `p50 ${(target / nativeAggCached).toFixed(1)}×, minima ${(min('wasmWorkerd', 'aggCached') / min('native', 'aggCached')).toFixed(1)}×\n`,
    );
  }
  const endpoint = p50('wasmWorkerd', 'attestation');
  if (endpoint !== undefined && nativeAgg !== undefined) {
    out.write(
      `the gateway's check (verifyAttestation: schema, digest, quorum, ${SIGNERS}-signer aggregate on cached keys, wasm, in workerd) ` +
        `${endpoint.toFixed(2)} ms = ${(endpoint / nativeAgg).toFixed(2)}× native blst's ${SIGNERS}-signer aggregate; ` +
        `with @noble/curves in workerd ${p50('nobleWorkerd', 'attestation')?.toFixed(1) ?? '—'} ms\n`,
    );
  }
  out.write(
    `wasm start in workerd: first getWasmBls() in the isolate (instantiate + init + known-answer self-test) ${instantiateMs.toFixed(0)} ms; ` +
      `a further instance (instantiate + init) ${warmInstantiateMs.toFixed(1)} ms\n`,
  );
  out.write(
    `samples: Node: single calls (native ${r.native?.aggBytes?.length ?? 0}+, wasm ${r.wasmNode?.single?.length ?? 0}, noble ${r.nobleNode?.single?.length ?? 0} per row); ` +
      `workerd: ${r.wasmWorkerd?.single?.length ?? 0} per row, each the mean of a batch of 1–10 calls (1 ms clock); load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} CPUs\n`,
  );
  out.write(`workerd clock check: the Worker timed ${clock.workerd.toFixed(0)} ms of ${clock.wall.toFixed(0)} ms wall time (HTTP + JSON included)\n`);
  if (process.env.BLS_BENCH_JSON) writeFileSync(process.env.BLS_BENCH_JSON, JSON.stringify(r));
  return r;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { iterations: { type: 'string', default: '30' } } });
  benchBlsWasm(Number(values.iterations)).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
