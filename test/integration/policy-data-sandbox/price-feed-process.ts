/**
 * Runs price-feed once in a process of its own and prints the result as JSON, so a test can read
 * everything the runtime printed. Usage: PRICE_API_KEY=... node --import tsx price-feed-process.ts <url> <host>
 */
import { runPolicyData } from '../../../signer-node/policy-data-sandbox';
import { buildPolicyData } from '../../../policies/policy-data/build';

const [url = '', host = ''] = process.argv.slice(2);
const { bytes } = await buildPolicyData('price-feed');
const result = await runPolicyData(bytes, { url }, { secrets: { price_api_key: process.env.PRICE_API_KEY ?? '' }, allowedHosts: [host] });
process.stdout.write(JSON.stringify(result));
