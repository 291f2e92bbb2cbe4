/** How the gateway talks to nodes (inference backends and signer nodes): request authentication and the shared HTTP plumbing. */
export * from './gateway-request-auth';
export * from './gateway-request-verifier';
export * from './node-http';
export * from './node-registration';
