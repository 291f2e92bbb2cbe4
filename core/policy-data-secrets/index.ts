/** PolicyData secrets: how they are sealed, stored by policy client and PolicyData, and delivered to operators. */
export * from './secrets-delivery';
export * from './secrets-sealing';
