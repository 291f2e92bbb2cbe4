export { HOST_IMPORTS, HOST_MODULE, MEMORY_EXPORT, MODULE_EXPORTS, packPointer, unpackPointer } from './abi';
export type { AbiFunctionType } from './abi';
export * from './errors';
export { isHostAllowed, networkFetch } from './host-calls';
export type { HttpCall, HttpRequest, HttpResponse, PolicyDataFetch } from './host-calls';
export { runPolicyData } from './run-policy-data';
export type { PolicyDataResult, RunPolicyDataOptions } from './run-policy-data';
export { validatePolicyDataModule } from './validate-module';
export type { ModuleLimits } from './validate-module';
