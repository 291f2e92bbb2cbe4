import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bytesToHex, type Address, type Hex } from 'viem';
import { defaultOperatorId } from '../core/operator-protocol';
import { registerWithGateway } from './gateway-registration';
import type { OperatorKey } from './operator-key';
import { createSignerServer } from './signer-server';
import { PolicyDataRunner } from './policy-data-runner';

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
  const server = createSignerServer({
    key: opts.key,
    authKey: () => authKey,
    operatorId: () => (authKey ? id : null),
    log,
    policyData: new PolicyDataRunner(opts.gatewayUrl, { allowedHosts: opts.policyDataHosts ?? [] }),
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
    log(`registered as operator ${registered.id} (${registered.status}), BLS key ${blsPublicKey.slice(0, 18)}…, serving at ${url}`);
  } catch (err) {
    await stop();
    throw err;
  }
  return { id, url, blsPublicKey, server, stop };
}
