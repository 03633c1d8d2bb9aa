import { homedir } from 'node:os'
import { join, resolve } from 'node:path'

/** Environment variable that overrides the default data directory. */
export const HOME_ENV_VAR = 'PEERINFRA_HOME'

/** The data directory: the option if given, else $PEERINFRA_HOME, else ~/.peerinfra. */
export function resolveDataDir(option?: string): string {
  if (option) return resolve(option)
  const env = process.env[HOME_ENV_VAR]
  if (env) return resolve(env)
  return join(homedir(), '.peerinfra')
}
