/** Reading secrets: from a flag, from $PEERINFRA_PASSWORD, from a hidden prompt, or from stdin. */
import { PeerError } from '../core/errors.ts'
import { MAX_PASSWORD_BYTES } from '../identity/constants.ts'

export const PASSWORD_ENV_VAR = 'PEERINFRA_PASSWORD'

export interface PasswordSource {
  password?: string
  /** Ask twice on a terminal (when setting a new password). */
  confirm?: boolean
  /** stdin carries other data, so it cannot carry the password. */
  stdinBusy?: boolean
}

export async function readPassword(prompt: string, source: PasswordSource): Promise<string> {
  if (source.password !== undefined) return source.password
  const env = process.env[PASSWORD_ENV_VAR]
  if (env !== undefined && env !== '') return env
  if (source.stdinBusy) {
    throw new PeerError(
      'E_INVALIDARG',
      `give the password with --password or $${PASSWORD_ENV_VAR} (stdin carries the data)`,
    )
  }
  if (process.stdin.isTTY) {
    const first = await promptHidden(`${prompt}: `)
    if (source.confirm && (await promptHidden('Repeat the password: ')) !== first) {
      throw new PeerError('E_INVALIDARG', 'the two passwords differ')
    }
    return first
  }
  const line = (await readAllStdin(MAX_PASSWORD_BYTES + 2)).split(/\r?\n/)[0] ?? ''
  if (line === '')
    throw new PeerError(
      'PEER_E_PASSWORD_DOES_NOT_MEET_POLICY',
      'no password given (--password, $PEERINFRA_PASSWORD, a prompt, or stdin)',
    )
  return line
}

/** All of stdin as text; more than `maxBytes` is refused (PEER_E_TOO_LARGE). */
export async function readAllStdin(maxBytes: number): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length
    if (size > maxBytes)
      throw new PeerError('PEER_E_TOO_LARGE', `stdin holds more than ${maxBytes} bytes`)
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin
    process.stderr.write(prompt)
    let value = ''
    stdin.setRawMode(true)
    stdin.resume()
    stdin.setEncoding('utf8')
    const done = (err?: Error): void => {
      stdin.setRawMode(false)
      stdin.pause()
      stdin.removeListener('data', onData)
      process.stderr.write('\n')
      if (err) reject(err)
      else resolve(value)
    }
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done()
        if (ch === '\u0003') return done(new PeerError('E_ABORT', 'cancelled'))
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1)
        else value += ch
      }
    }
    stdin.on('data', onData)
  })
}
