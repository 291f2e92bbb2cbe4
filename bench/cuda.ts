import { chooseExecutionProvider } from '../gpu-backend/execution-provider';
import { benchGatewayInference } from './gateway-inference.bench';

// `npm run bench:cuda`: the inference benchmark on onnxruntime's CUDA execution provider, for a
// machine with an NVIDIA GPU (see docs/inference-data-path.md for what to install). It fails at
// once, saying why, where CUDA cannot be used; CI never runs it.

async function main(): Promise<void> {
  const choice = await chooseExecutionProvider('cuda');
  process.stdout.write(`execution provider: ${choice.provider} (${choice.reason})\n`);
  process.env['PROOFGATE_BENCH_PROVIDER'] = 'cuda';
  await benchGatewayInference(Number(process.argv[2] ?? 100));
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
