import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bytesToHex, type Address, type Hex } from 'viem';
import { defaultOperatorId } from '../core/operator-protocol';
import { registerWithGateway } from './gateway-registration';
import type { OperatorKey } from './operator-key';
import { createSignerServer } from './signer-server';
import { PolicyDataRunner } from './policy-data-runner';
import { PolicySource } from './policy-source';
import { ChainRegistrySnapshots } from './registry-reader';

/** How to run an operator's signer node. */
export interface SignerNodeOptions {
  gatewayUrl: string;
  operatorToken: string;
  key: OperatorKey;
  host: string;
  port: number;
  /** URL the gateway reaches this node at (default http://host:port). */
  publicUrl?: string;
  /** Operator id (default derived from the BLS public key). */
  id?: string;
  address?: Address;
  /** Hosts PolicyData modules may fetch from (`host:port` or `hostname`). */
  policyDataHosts?: string[];
  /** Where fetched PolicyData binaries and transpiled components are kept (default: under the OS temp dir). */
  policyDataCacheDir?: string;
  /** JSON-RPC URL of the chain holding the OperatorRegistry, and the registry's address. */
  chainRpcUrl: string;
  registry: Address;
  /** Where policies are fetched by id (default: the gateway); content is checked against the id either way. */
  policySourceUrl?: string;
  log?: (line: string) => void;
}

/** A running signer node, registered for its operator. */
export interface SignerNode {
  id: string;
  url: string;
  blsPublicKey: Hex;
  server: Server;
  stop(): Promise<void>;
}

/** Starts the signer node's HTTP server, then registers the operator (with its proof of possession) at the gateway. */
export async function startSignerNode(opts: SignerNodeOptions): Promise<SignerNode> {
  const log = opts.log ?? (() => {});
  const blsPublicKey = bytesToHex(opts.key.publicKey);
  const id = opts.id ?? defaultOperatorId(blsPublicKey);
  let authKey: Hex | null = null;
  const policyData = new PolicyDataRunner(
    opts.gatewayUrl,
    { allowedHosts: opts.policyDataHosts ?? [] },
    { ...(opts.policyDataCacheDir ? { cacheDir: opts.policyDataCacheDir } : {}), credentials: () => (authKey ? { operatorId: id, authKey } : null) },
  );
  policyData
    .warm()
    .catch((err: unknown) => log(`PolicyData components cannot be transpiled here: ${err instanceof Error ? err.message : String(err)}`));
  const server = createSignerServer({
    key: opts.key,
    authKey: () => authKey,
    operatorId: () => (authKey ? id : null),
    log,
    policyData,
    policies: new PolicySource(opts.policySourceUrl ?? opts.gatewayUrl),
    registry: new ChainRegistrySnapshots(opts.chainRpcUrl, opts.registry),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const url = opts.publicUrl?.replace(/\/+$/, '') ?? `http://${opts.host}:${(server.address() as AddressInfo).port}`;
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  try {
    const registered = await registerWithGateway({ ...opts, publicUrl: url }, id);
    authKey = registered.authKey;
    log(
      `registered as operator ${registered.id} (membership and stake: the OperatorRegistry on chain), BLS key ${blsPublicKey.slice(0, 18)}…, serving at ${url}`,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { id, url, blsPublicKey, server, stop };
}
