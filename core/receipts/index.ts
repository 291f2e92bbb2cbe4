export * from './inference-receipt';
export * from './verify-receipt';
