export * from './tables';
export * from './policies';
export * from './authorization';
