import { parseArgs } from 'node:util';
import { benchAttestation, benchIntentAttestation } from './attestation.bench';
import { benchBlsWasm } from './bls-wasm/run';
import { benchGatewayInference } from './gateway-inference.bench';
import { benchPoolRate } from './pool-rate.bench';
import { benchQuorumInference } from './quorum-inference.bench';
import { benchRegoAdmission } from './rego-admission.bench';
import { benchX402Verification } from './x402-verification.bench';

const BENCHES: Record<string, (iterations: number) => Promise<void>> = {
  inference: benchGatewayInference,
  pool: benchPoolRate,
  rego: benchRegoAdmission,
  x402: benchX402Verification,
  attestation: benchAttestation,
  intents: benchIntentAttestation,
  bls: async (iterations) => void (await benchBlsWasm(Math.min(iterations, 30))),
  quorum: benchQuorumInference,
};

const HELP = `npm run bench [-- --only ${Object.keys(BENCHES).join(',')}] [--iterations N]

Proofgate's benchmarks, each against a baseline measured in the same run:
  inference  gateway inference vs a direct onnxruntime-node session.run (silero-vad, ppocr-det, tiny-add)
  pool       requests per second one BackendPool Durable Object serves (snapshots, heartbeats)
  rego       one admission decision in Node and in workerd
  x402       paid calls (async and sync settlement) vs the same call on a free model
  attestation  aggregate verification for 100 signers vs one-by-one, and operator signing time
  intents    intent → attestation through the gateway (3 operators), against the /healthz floor
  bls        100-signer aggregate verification and verifyAttestation in workerd (WebAssembly) vs native blst
  quorum     quorum inference (k=2, k=3 operators' backends, attested) vs the same call on one backend
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { only: { type: 'string' }, iterations: { type: 'string', default: '200' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const names = values.only ? values.only.split(',') : Object.keys(BENCHES);
  for (const name of names) {
    const bench = BENCHES[name];
    if (!bench) throw new Error(`unknown benchmark ${name} (${Object.keys(BENCHES).join(', ')})`);
    await bench(Number(values.iterations));
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
