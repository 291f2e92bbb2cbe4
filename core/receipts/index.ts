export * from './inference-receipt';
export * from './receipt-digest';
export * from './receipt-signature';
export * from './verify-receipt';
export * from './receipt-charge';
