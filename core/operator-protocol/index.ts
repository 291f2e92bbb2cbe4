/** The gateway ↔ operator protocol: operator registration, and the tasks signer nodes evaluate and sign. */
export * from './operator-registration';
export * from './task-protocol';
