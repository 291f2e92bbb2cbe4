/** The gateway ↔ inference backend protocol: signed registration and heartbeats, and the run call. */
export * from './backend-messages';
