/** The gateway ↔ operator protocol: operator registration, policy content by id, and the tasks signer nodes evaluate and sign. */
export * from './operator-registration';
export * from './policy-content';
export * from './task-protocol';
