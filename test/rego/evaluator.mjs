// Conformance adapter: runs OPA's conformance cases against Proofgate's Rego engine.
// Loaded by /work/shared/rego-conformance/run-conformance.mjs (node --import tsx ...).
import { compilePolicy, parseValue, queryValues, toJS, RegoError } from '../../core/rego/index';

/** Evaluates one conformance case and returns OPA-shaped rows (or throws an Error with `code`). */
export async function evalQuery(req) {
  try {
    const policy = compilePolicy(req.modules ?? {});
    let input = req.input;
    if (req.inputTerm !== undefined && input === undefined) input = parseValue(req.inputTerm);
    const rows = queryValues(policy, req.query, {
      input,
      data: req.data,
      strictBuiltinErrors: req.strictBuiltinErrors,
      context: { nowNs: BigInt(Date.now()) * 1000000n, seed: 'conformance' },
    });
    return rows.map((row) => Object.fromEntries([...row].map(([k, v]) => [k, toJS(v)])));
  } catch (e) {
    if (e instanceof RegoError) {
      const err = new Error(e.message);
      err.code = e.code;
      if (e.location) err.location = { file: e.location.file, row: e.location.row };
      if (Array.isArray(e.resultSet)) err.resultSet = e.resultSet.map((row) => Object.fromEntries([...row].map(([k, v]) => [k, toJS(v)])));
      throw err;
    }
    throw e;
  }
}
