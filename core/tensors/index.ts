export * from './tensor';
export * from './tensor-json';
export * from './tensor-codec';
export * from './tensor-hash';
export { toFloat16Bits, fromFloat16Bits } from './float16';
