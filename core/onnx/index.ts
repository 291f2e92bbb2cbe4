export * from './model-signature';
export * from './check-inputs';
