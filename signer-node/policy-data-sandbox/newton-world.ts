/**
 * The `newton:provider` world that PolicyData components are built against (Newton Protocol's
 * WIT, 0.1.0 and 0.2.0; policies/policy-data/newton/newton-provider.wit), and the check that a
 * component's own world, as wasm-tools prints it, fits it: the Newton interfaces of one version,
 * the WASI interfaces the sandbox answers deterministically, and the one `run` export.
 */
import { ForbiddenImportError, InvalidModuleError } from './errors';

/** Versions of `newton:provider` the sandbox runs. */
export type NewtonWorldVersion = '0.1.0' | '0.2.0';

/** Interfaces each version of the world imports. */
export const NEWTON_INTERFACES: Readonly<Record<NewtonWorldVersion, readonly string[]>> = {
  '0.1.0': ['http'],
  '0.2.0': ['http', 'secrets', 'tlsn'],
};

/**
 * WASI interfaces (any 0.2.x) that JavaScript components import even with every optional feature
 * disabled, each answered without touching the host: no environment, arguments, files or
 * terminal; the clock is the task's; randomness is seeded by the task; stdout/stderr become logs.
 */
export const DETERMINISTIC_WASI_INTERFACES: readonly string[] = [
  'wasi:cli/environment',
  'wasi:cli/exit',
  'wasi:cli/stdin',
  'wasi:cli/stdout',
  'wasi:cli/stderr',
  'wasi:cli/terminal-input',
  'wasi:cli/terminal-output',
  'wasi:cli/terminal-stdin',
  'wasi:cli/terminal-stdout',
  'wasi:cli/terminal-stderr',
  'wasi:clocks/monotonic-clock',
  'wasi:clocks/wall-clock',
  'wasi:filesystem/preopens',
  'wasi:filesystem/types',
  'wasi:io/error',
  'wasi:io/poll',
  'wasi:io/streams',
  'wasi:random/random',
  'wasi:random/insecure',
  'wasi:random/insecure-seed',
];

/** What a checked component imports. */
export interface NewtonWorld {
  /** The `newton:provider` version it imports, or null when it imports no Newton interface. */
  version: NewtonWorldVersion | null;
  /** Its imports, versions stripped (`newton:provider/http`, `wasi:io/poll`…), as the transpiled code names them. */
  imports: string[];
}

const IMPORT = /^\s*import\s+([a-z0-9:/.@-]+);\s*$/;
const RUN_EXPORT = /^\s*export\s+run:\s*func\(\s*[a-z][a-z0-9-]*:\s*string\s*\)\s*->\s*result<\s*string\s*,\s*string\s*>;\s*$/;
const NAME = /^([a-z0-9-]+:[a-z0-9-]+)\/([a-z0-9-]+)(?:@(\d+\.\d+\.\d+))?$/;

/**
 * Checks the world of a component (the `wasm-tools component wit` text of its root world) against
 * `newton:provider`. Throws ForbiddenImportError for an import the sandbox does not answer (WASI
 * HTTP or sockets, a Newton interface of another version…) and InvalidModuleError when `run` is
 * missing or has another signature, or the world exports anything else.
 */
export function checkNewtonWorld(wit: string): NewtonWorld {
  const world = /^[ \t]*world[ \t]+[a-z0-9-]+[ \t]*\{[ \t]*$/m.exec(wit);
  if (!world) throw new InvalidModuleError('the component declares no world');
  const lines = wit.slice(world.index + world[0].length).split('\n');
  let version: NewtonWorldVersion | null = null;
  const imports: string[] = [];
  let runExported = false;
  for (const line of lines) {
    const text = line.trim();
    if (text === '' || text.startsWith('//')) continue;
    if (text === '}') break;
    const imported = IMPORT.exec(text);
    if (imported) {
      const name = imported[1]!;
      const parts = NAME.exec(name);
      if (!parts) throw new ForbiddenImportError(`import ${name} is not an interface the sandbox provides`);
      const [, pkg, iface, ifaceVersion] = parts;
      if (pkg === 'newton:provider') {
        version = newtonVersion(name, iface!, ifaceVersion, version);
      } else if (!DETERMINISTIC_WASI_INTERFACES.includes(`${pkg}/${iface}`) || !ifaceVersion?.startsWith('0.2.')) {
        throw new ForbiddenImportError(forbiddenMessage(name, pkg!));
      }
      imports.push(`${pkg}/${iface}`);
      continue;
    }
    if (RUN_EXPORT.test(text)) {
      runExported = true;
      continue;
    }
    if (text.startsWith('export')) throw new InvalidModuleError(`the component exports more than run: ${text}`);
    throw new ForbiddenImportError(`the component's world declares ${text}, which newton:provider does not`);
  }
  if (!runExported) throw new InvalidModuleError('the component must export run: func(input: string) -> result<string, string>');
  return { version, imports };
}

function newtonVersion(name: string, iface: string, ifaceVersion: string | undefined, seen: NewtonWorldVersion | null): NewtonWorldVersion {
  const version = ifaceVersion as NewtonWorldVersion | undefined;
  if (!version || !(version in NEWTON_INTERFACES)) {
    throw new ForbiddenImportError(`import ${name}: the sandbox runs newton:provider ${Object.keys(NEWTON_INTERFACES).join(' and ')}`);
  }
  if (!NEWTON_INTERFACES[version].includes(iface))
    throw new ForbiddenImportError(`import ${name}: newton:provider@${version} has no interface ${iface}`);
  if (seen && seen !== version) throw new ForbiddenImportError(`the component imports newton:provider@${seen} and @${version}`);
  return version;
}

function forbiddenMessage(name: string, pkg: string): string {
  if (pkg === 'wasi:http' || pkg === 'wasi:sockets') {
    return `import ${name}: network access goes through newton:provider/http only (build with jco componentize --disable http --disable fetch-event)`;
  }
  return `import ${name} is not one the sandbox provides (newton:provider and deterministic WASI clocks, random, stdio and io only)`;
}
