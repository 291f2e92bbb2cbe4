/**
 * `node --import tsx bls-wasm/build.ts`: writes bls-wasm/dist/bls_eth.wasm. Run it before wrangler
 * bundles a Worker that imports bls-wasm/worker.ts (a wrangler.toml `[build] command` does it; see
 * bench/bls-wasm/wrangler.toml).
 */
import { writeBlsWasm } from './extract';

process.stdout.write(`bls-wasm: ${writeBlsWasm()}\n`);
