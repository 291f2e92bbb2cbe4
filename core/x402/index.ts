export * from './errors';
export * from './eip155-network';
export * from './payment-header';
export * from './payment-required';
export * from './verify-exact-evm';
export * from './facilitator-settlement';
