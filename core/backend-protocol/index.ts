/** The gateway ↔ inference backend protocol: signed registration and heartbeats, and the run call. */
export * from './backend-messages';
export * from './run-terms';
export * from './quorum-signing';
