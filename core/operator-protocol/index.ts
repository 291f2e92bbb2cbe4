/** The gateway ↔ operator protocol: operator registration, policy content by id, the tasks signer nodes evaluate and sign, and a task's public view. */
export * from './operator-registration';
export * from './policy-content';
export * from './task-protocol';
export * from './task-view';
