import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LocalStack } from '../local-stack/launch';
import { launchTestStack } from '../test/support/test-stack';
import { bundleWorker, childPids, startMiniflareGateway, type MiniflareGateway } from './miniflare-gateway';
import { switchableLink, type SwitchableLink } from './switchable-link';

/** Settlement settings of the suite's gateway: short enough that faults resolve within the run. */
export const SUITE_WORKER_VARS = {
  X402_SETTLE_TIMEOUT_MS: '3000',
  X402_RESERVATION_TTL_MS: '15000',
};

/** The stack the suite runs against, with its handles for faults. */
export interface ReliabilityStack {
  stack: LocalStack;
  gateway: MiniflareGateway;
  /** The Worker's link to the facilitator. */
  facilitatorLink: SwitchableLink;
  /** The Worker's link to the chain's JSON-RPC. */
  rpcLink: SwitchableLink;
  /** Pid of a process this suite started (directly), found by a part of its command line; undefined if gone. */
  pidOf(commandPart: string): number | undefined;
  stop(): Promise<void>;
}

/** Command line of a process, or '' once it is gone. */
function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/**
 * Launches the whole local stack in a fresh temporary folder: the gateway Worker under miniflare
 * (workerd with D1, R2 and Durable Objects), two backends, three operators (stakes 50/30/20), anvil
 * and the facilitator, with the facilitator and the chain's JSON-RPC behind switchable links.
 */
export async function launchReliabilityStack(log: (line: string) => void): Promise<ReliabilityStack> {
  const stateDir = await mkdtemp(join(tmpdir(), 'proofgate-reliability-'));
  const bundleDir = join(stateDir, 'bundle');
  log('bundling the Worker (wrangler deploy --dry-run)');
  await bundleWorker(bundleDir);
  let gateway: MiniflareGateway | undefined;
  let facilitatorLink: SwitchableLink | undefined;
  let rpcLink: SwitchableLink | undefined;
  const stack = await launchTestStack({
    stateDir,
    backends: 2,
    operatorStakes: [50n, 30n, 20n],
    workerVars: SUITE_WORKER_VARS,
    log,
    interposeFacilitator: async (url) => {
      facilitatorLink = await switchableLink(url);
      return facilitatorLink.url;
    },
    interposeRpc: async (url) => {
      rpcLink = await switchableLink(url);
      return rpcLink.url;
    },
    startGateway: async (launch) => {
      gateway = await startMiniflareGateway(launch, bundleDir);
      return gateway;
    },
  });
  if (!gateway || !facilitatorLink || !rpcLink) throw new Error('the stack started without the suite’s gateway or links');
  const links = [facilitatorLink, rpcLink];
  return {
    stack,
    gateway,
    facilitatorLink,
    rpcLink,
    pidOf: (part) => childPids(process.pid).find((pid) => cmdline(pid).includes(part)),
    stop: async () => {
      await stack.stop();
      for (const l of links) await l.close();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}
