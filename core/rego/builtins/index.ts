/** The builtin registry: every builtin the engine knows, by name. */
import { aggregateBuiltins } from './aggregates';
import { arithmeticBuiltins } from './arithmetic';
import { awsBuiltins } from './aws';
import { collectionBuiltins } from './collections';
import { cryptoBuiltins } from './crypto';
import { encodingBuiltins } from './encoding';
import { externalBuiltins } from './external';
import { globBuiltins } from './glob';
import { identifierBuiltins } from './identifiers';
import { jwtBuiltins } from './jwt';
import { netBuiltins } from './net';
import { newtonBuiltins } from './newton';
import { regexBuiltins } from './regex';
import { regexGlobsBuiltins } from './regex-globs';
import { stringBuiltins } from './strings';
import { timeBuiltins } from './time';
import type { BuiltinDef } from './types';
import { unitBuiltins } from './units';
import { x509Builtins } from './x509';

/** All builtins, keyed by name (`count`, `io.jwt.decode`, ...). */
export const BUILTINS: ReadonlyMap<string, BuiltinDef> = new Map(
  [
    ...arithmeticBuiltins,
    ...aggregateBuiltins,
    ...stringBuiltins,
    ...collectionBuiltins,
    ...encodingBuiltins,
    ...timeBuiltins,
    ...unitBuiltins,
    ...regexBuiltins,
    ...regexGlobsBuiltins,
    ...globBuiltins,
    ...cryptoBuiltins,
    ...netBuiltins,
    ...identifierBuiltins,
    ...jwtBuiltins,
    ...externalBuiltins,
    ...awsBuiltins,
    ...x509Builtins,
    ...newtonBuiltins,
  ].map((b) => [b.name, b]),
);
