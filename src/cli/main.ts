/** `peerinfra`: the command line for every component. */
import { Command, CommanderError } from 'commander'
import pkg from '../../package.json' with { type: 'json' }
import { setLogPatterns } from '../core/log.ts'
import { graphCommand } from './graph.ts'
import { groupCommand } from './group.ts'
import { identityCommand } from './identity.ts'
import { nodeCommand } from './node.ts'
import { reportError } from './output.ts'
import { pnrpCommand } from './pnrp.ts'

export function buildProgram(): Command {
  const program = new Command('peerinfra')
    .description('The Windows Peer Infrastructure for Node.js: identities, PNRP, graphs and groups')
    .version(pkg.version)
    .option('--home <dir>', 'data directory (default $PEERINFRA_HOME or ~/.peerinfra)')
    .option('--json', 'print machine-readable JSON')
    .option('--debug [components]', 'log to stderr (all components, or a comma-separated list)')
    .hook('preAction', (cmd) => {
      const debug = cmd.opts<{ debug?: string | boolean }>().debug
      if (debug !== undefined) setLogPatterns(debug === true ? '*' : String(debug))
    })
    .showHelpAfterError()
  program.addCommand(identityCommand())
  program.addCommand(pnrpCommand())
  program.addCommand(graphCommand())
  program.addCommand(groupCommand())
  program.addCommand(nodeCommand())
  return program
}

/** Applies exit and help settings to every subcommand (addCommand does not inherit them). */
function forEachCommand(cmd: Command, fn: (c: Command) => void): void {
  fn(cmd)
  for (const sub of cmd.commands) forEachCommand(sub, fn)
}

/** Runs the CLI; returns the exit code (0 ok, 1 failure, 2 usage error). */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram()
  forEachCommand(program, (c) => c.exitOverride().showHelpAfterError())
  try {
    await program.parseAsync(argv)
    return 0
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are not failures; commander has already printed its message.
      return err.exitCode === 0 ? 0 : 2
    }
    return reportError(err, argv.includes('--json'))
  }
}
