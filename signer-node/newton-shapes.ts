/**
 * What a policy sees, shaped so that a Newton Protocol policy runs unchanged beside Proofgate's own:
 * `input` is the intent with Newton's field names added, `data.wasm` merges the output objects of
 * `newton:provider` components (Newton's packs wrap theirs under their pack id) and keeps each core
 * module's output under its name, and a component's input is the task's `wasm_args`.
 */
import { decodeFunctionData, parseAbiItem, stringToHex, type AbiFunction, type Hex } from 'viem';
import type { IntentTask } from '../core/operator-protocol';
import type { PolicyDataBinaryKind } from './policy-data-sandbox';

/** Newton's `input`: the intent as Newton's gateway parses it (newton-testing-utils' parsed intent). */
export interface NewtonIntentFields {
  chain_id: string;
  function_signature: Hex;
  function: AbiFunction | null;
  decoded_function_signature: string;
  decoded_function_arguments: unknown[];
}

/**
 * The policy's `input`: the intent as Proofgate defines it (`from`, `to`, `value`, `data`,
 * `chainId`, untouched, so existing policies see what they always saw) plus Newton's names for
 * it: `chain_id` (decimal string), `function_signature` (hex of the signature's text), `function`
 * (its ABI item), `decoded_function_signature` (the text) and `decoded_function_arguments` (addresses
 * lower-case, integers above 48 bits as decimal strings), decoded when the task names the function.
 */
export function policyInput(task: IntentTask): IntentTask['intent'] & NewtonIntentFields {
  const signature = task.functionSignature;
  const decoded = signature ? decodeCall(signature, task.intent.data) : undefined;
  return {
    ...task.intent,
    chain_id: String(task.intent.chainId),
    function_signature: signature ? stringToHex(signature) : '0x',
    function: decoded?.function ?? null,
    decoded_function_signature: decoded?.text ?? '',
    decoded_function_arguments: decoded?.args ?? [],
  };
}

/** A component's input: the task's `wasm_args`, or `{}` as Newton passes when there are none. */
export function componentInput(task: IntentTask): unknown {
  return task.wasmArgs ?? {};
}

/**
 * `data.wasm` from the consensus outputs, in the policy's PolicyData order: a component's output
 * object is merged in shallowly (a later key wins, as in Newton's merge), a core module's output
 * is set under the module's name (`data.wasm.<name>`, as before). A policy whose PolicyData are
 * all core modules therefore sees exactly what it always did.
 */
export function policyDataDocument(
  modules: readonly { name: string }[],
  consensus: Readonly<Record<string, unknown>>,
  kinds: Readonly<Record<string, PolicyDataBinaryKind>> = {},
): Record<string, unknown> {
  const document: Record<string, unknown> = {};
  for (const { name } of modules) {
    if (!Object.hasOwn(consensus, name)) continue;
    const output = consensus[name];
    if (kinds[name] === 'component' && output !== null && typeof output === 'object' && !Array.isArray(output)) Object.assign(document, output);
    else document[name] = output;
  }
  return document;
}

function decodeCall(signature: string, data: Hex): { function: AbiFunction; text: string; args: unknown[] } | undefined {
  const text = signature.trim();
  let item: AbiFunction;
  try {
    item = parseAbiItem(text.startsWith('function ') ? text : `function ${text}`) as AbiFunction;
    if (item.type !== 'function') return undefined;
  } catch {
    return undefined;
  }
  try {
    const { args } = decodeFunctionData({ abi: [item], data });
    return { function: item, text, args: (args ?? []).map(newtonValue) };
  } catch {
    // Calldata that is not a call of that function: Newton's fields stay, the arguments are not decoded.
    return { function: item, text, args: [] };
  }
}

function newtonValue(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string' && /^0x[0-9a-fA-F]{40}$/.test(value)) return value.toLowerCase();
  if (Array.isArray(value)) return value.map(newtonValue);
  if (value !== null && typeof value === 'object') return Object.values(value).map(newtonValue);
  return value;
}
