/**
 * `proofgate`: the command line of a Proofgate gateway, for every user: agents and developers
 * (infer, receipts), publishers (models, policies), operators (backend, operator), relying services
 * (intents, attestations). Built on the SDK (sdk/); `npx proofgate --help` lists the commands.
 */
import { CommanderError } from 'commander';
import { fail } from './print';
import { proofgateProgram } from './program';

proofgateProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
    fail(err);
  });
