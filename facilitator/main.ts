import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Hex } from 'viem';
import { startFacilitator } from './service';
import { isBytes32 } from '../core/hex';

const usage = 'usage: node --import tsx facilitator/main.ts --rpc <url> --key-file <file with 0x private key> [--port 4020] [--host 127.0.0.1]';

/** Reads the facilitator key from a file so it never appears in argv, the environment or the logs. */
function readKey(path: string): Hex {
  const key = readFileSync(path, 'utf8').trim();
  if (!isBytes32(key)) throw new Error(`${path} does not hold a 0x-prefixed 32-byte hex private key`);
  return key as Hex;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { rpc: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, 'key-file': { type: 'string' } },
  });
  if (!values.rpc || !values['key-file']) {
    console.error(usage);
    process.exit(2);
  }
  const facilitator = await startFacilitator({
    rpcUrl: values.rpc,
    privateKey: readKey(values['key-file']),
    port: values.port === undefined ? 4020 : Number(values.port),
    ...(values.host === undefined ? {} : { host: values.host }),
  });
  console.log(`x402 facilitator on ${facilitator.url} (${facilitator.network}, settling from ${facilitator.address})`);
  const shutdown = () => void facilitator.stop().then(() => process.exit(0));
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
