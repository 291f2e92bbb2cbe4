import { getAddress, isAddressEqual, parseAbi, parseEventLogs, type Address, type Hex, type PublicClient } from 'viem';

/** The EIP-3009 surface the ledger reads: the nonce state and the events that settle or cancel it. */
export const eip3009LedgerAbi = parseAbi([
  'function authorizationState(address authorizer, bytes32 nonce) view returns (bool)',
  'event AuthorizationUsed(address indexed authorizer, bytes32 indexed nonce)',
  'event AuthorizationCanceled(address indexed authorizer, bytes32 indexed nonce)',
  'event Transfer(address indexed from, address indexed to, uint256 value)',
]);

/** What the chain says about one (authorizer, nonce) of an EIP-3009 token. */
export type AuthorizationUse =
  | { state: 'unused' }
  | { state: 'used'; transaction: Hex; transfer: { from: Address; to: Address; value: bigint } | undefined }
  | { state: 'canceled' }
  | { state: 'unknown' };

/**
 * Looks up whether an authorization nonce was consumed, and if so by which transaction and transfer.
 * The token's own `authorizationState` is the truth; the event logs only locate the transaction.
 */
export async function findAuthorizationUse(client: PublicClient, asset: Address, authorizer: Address, nonce: Hex): Promise<AuthorizationUse> {
  const used = await client.readContract({ address: asset, abi: eip3009LedgerAbi, functionName: 'authorizationState', args: [authorizer, nonce] });
  if (!used) return { state: 'unused' };
  const filter = { address: asset, args: { authorizer, nonce }, fromBlock: 'earliest', toBlock: 'latest' } as const;
  const [usedLogs, canceledLogs] = await Promise.all([
    client.getLogs({ ...filter, event: eip3009LedgerAbi[1] }),
    client.getLogs({ ...filter, event: eip3009LedgerAbi[2] }),
  ]);
  if (canceledLogs.length > 0) return { state: 'canceled' };
  const log = usedLogs[0];
  if (!log) return { state: 'unknown' };
  const receipt = await client.getTransactionReceipt({ hash: log.transactionHash });
  // The Transfer that the same call emitted right after AuthorizationUsed carries the moved amount.
  const transfer = parseEventLogs({ abi: eip3009LedgerAbi, eventName: 'Transfer', logs: receipt.logs }).find(
    (t) => isAddressEqual(t.address, asset) && t.logIndex > log.logIndex && isAddressEqual(t.args.from, authorizer),
  );
  return {
    state: 'used',
    transaction: log.transactionHash,
    transfer: transfer && { from: getAddress(transfer.args.from), to: getAddress(transfer.args.to), value: transfer.args.value },
  };
}
