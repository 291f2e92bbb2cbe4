import assert from 'node:assert/strict';
import { BaseError, ContractFunctionRevertedError } from 'viem';

/** An assert.rejects validator: the call reverted with the named custom error. */
export function revertsWith(errorName: string) {
  return (error: unknown) => {
    assert.ok(error instanceof BaseError, String(error));
    const revert = error.walk((e) => e instanceof ContractFunctionRevertedError);
    assert.ok(revert instanceof ContractFunctionRevertedError, error.message);
    assert.equal(revert.data?.errorName, errorName);
    return true;
  };
}
