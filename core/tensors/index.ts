export * from './tensor';
export * from './tensor-json';
export * from './tensor-json-body';
export * from './tensor-json-text';
export * from './tensor-codec';
export * from './tensor-hash';
export * from './tensor-stream';
export { toFloat16Bits, fromFloat16Bits } from './float16';
