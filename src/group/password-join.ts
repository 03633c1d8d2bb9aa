/**
 * Password joins (MS-PPSEC "Password authentication", on Noise; messages.ts has the flow).
 *
 * The joiner first checks the authenticator's membership chain against the group root its
 * invitation carries (so it never shows a proof to a non-member), then proves the password
 * by signing this connection's Noise handshake hash and its own peer name with the key pair
 * the password and the group's salt make (password.ts): a proof seen by a member cannot be
 * replayed in another handshake, and neither the password nor its private key travels. The authenticator, an admin or inviting member
 * holding the verifier from the security-properties record, issues a membership certificate
 * with the group's password role and returns the chain (MS-PPSEC YourGMC).
 */
import type { Clock } from '../core/clock.ts'
import { abortError } from '../core/abort.ts'
import { concatBytes, utf8 } from '../core/bytes.ts'
import { PeerError, toPeerError } from '../core/errors.ts'
import { createLogger } from '../core/log.ts'
import type { Random } from '../core/random.ts'
import type { Certificate } from '../identity/certificate.ts'
import type { Identity } from '../identity/identity.ts'
import { PublicKey, type KeyPair } from '../identity/keys.ts'
import { graphContext } from '../graph/network.ts'
import type { RemoteCredentials } from '../graph/security.ts'
import { ConnectionManager } from '../transport/connections.ts'
import type { Channel } from '../transport/mux.ts'
import { SessionCredentials } from '../transport/secure-session.ts'
import type { StreamTransport } from '../transport/types.ts'
import {
  GROUP_DOMAIN,
  GROUP_WIRE_VERSION,
  JOIN_TIMEOUT_MS,
  MAX_PASSWORD_FAILURES_PER_MINUTE,
} from './constants.ts'
import {
  decodeChain,
  encodeChain,
  isCertificateOf,
  issueMembership,
  mayIssue,
  verifyMembership,
} from './credentials.ts'
import {
  decodeJoinMessage,
  encodeJoinMessage,
  JOIN_CHANNEL,
  JOIN_REQUEST,
  type JoinMessage,
} from './messages.ts'
import { passwordKeyPair } from './password.ts'
import type { GroupProperties } from './properties.ts'

const log = createLogger('group')
const MINUTE_MS = 60_000

function proofMessage(handshakeHash: Uint8Array, joiner: string): Uint8Array {
  return concatBytes(handshakeHash, utf8(joiner))
}

/** The password proof for one handshake and one joiner. */
export function passwordProof(password: KeyPair, handshakeHash: Uint8Array, joiner: string) {
  return password.sign(GROUP_DOMAIN.passwordProof, proofMessage(handshakeHash, joiner))
}

/** True when `proof` is the password's for this handshake and joiner. */
export function checkPasswordProof(
  passwordKey: Uint8Array,
  proof: Uint8Array,
  handshakeHash: Uint8Array,
  joiner: string,
): boolean {
  let key: PublicKey
  try {
    key = PublicKey.fromBytes(passwordKey)
  } catch {
    return false
  }
  return key.verify(GROUP_DOMAIN.passwordProof, proofMessage(handshakeHash, joiner), proof)
}

/** The next message on `channel`, or PEER_E_TIMEOUT at `deadline` / the close reason. */
function nextMessage(
  channel: Channel,
  clock: Clock,
  deadline: number,
  signal?: AbortSignal,
): Promise<JoinMessage> {
  return new Promise((resolve, reject) => {
    const cleanup: (() => void)[] = []
    const finish = (fn: () => void) => {
      for (const c of cleanup) c()
      fn()
    }
    const timer = clock.setTimeout(
      () => finish(() => reject(new PeerError('PEER_E_TIMEOUT', 'the password join timed out'))),
      Math.max(0, deadline - clock.now()),
    )
    cleanup.push(() => timer.cancel())
    cleanup.push(
      channel.once('message', (bytes) =>
        finish(() => {
          try {
            resolve(decodeJoinMessage(bytes))
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)))
          }
        }),
      ),
    )
    cleanup.push(
      channel.once('close', (error) =>
        finish(() =>
          reject(error ?? new PeerError('PEER_E_CONNECTION_FAILED', 'the member closed the join')),
        ),
      ),
    )
    if (signal) {
      const onAbort = () => finish(() => reject(abortError(signal, 'password join')))
      if (signal.aborted) return onAbort()
      signal.addEventListener('abort', onAbort, { once: true })
      cleanup.push(() => signal.removeEventListener('abort', onAbort))
    }
  })
}

// ---- the authenticator ---------------------------------------------------------------------

export interface AuthenticatorContext {
  groupPeerName: string
  clock: Clock
  random: Random
  key: KeyPair
  chain: () => readonly Certificate[]
  properties: () => GroupProperties | undefined
  /** Peer time. */
  now: () => number
}

/** Serves password joins on a member that may issue the group's password role. */
export class PasswordAuthenticator {
  private readonly ctx: AuthenticatorContext
  private failures: number[] = []

  constructor(ctx: AuthenticatorContext) {
    this.ctx = ctx
  }

  private get leaf(): Certificate {
    const chain = this.ctx.chain()
    return chain[chain.length - 1] as Certificate
  }

  /** Why this member cannot authenticate password joiners now; undefined when it can. */
  refusal(): string | undefined {
    const props = this.ctx.properties()
    if (!props?.password || !props.authSchemes.includes('password')) {
      return 'the group does not take passwords'
    }
    if (!mayIssue(this.leaf, [props.passwordRole])) {
      return 'this member may not issue the password role'
    }
    return undefined
  }

  /** Runs one join on a channel a restricted (password) peer opened. */
  serve(channel: Channel, remote: RemoteCredentials, handshakeHash: Uint8Array): void {
    this.run(channel, remote, handshakeHash)
      .catch((err: unknown) => {
        log.debug('password join ended', { peer: remote.peerId, error: (err as Error).message })
      })
      .finally(() => channel.close())
  }

  private async run(channel: Channel, remote: RemoteCredentials, hh: Uint8Array): Promise<void> {
    const send = (m: JoinMessage) => channel.send(encodeJoinMessage(m))
    const refuse = (code: string, reason: string) => send({ t: 'refused', code, reason })
    const deadline = this.ctx.clock.now() + JOIN_TIMEOUT_MS
    const hello = await nextMessage(channel, this.ctx.clock, deadline)
    if (hello.t !== 'hello' || hello.v !== GROUP_WIRE_VERSION) {
      return refuse('PEER_E_UNSUPPORTED_VERSION', 'expected hello version 1')
    }
    const why = this.refusal()
    const props = this.ctx.properties()
    if (why || !props?.password) return refuse('PEER_E_NOT_AUTHORIZED', why ?? 'no password')
    await send({ t: 'salt', salt: props.password.salt })
    const proof = await nextMessage(channel, this.ctx.clock, deadline)
    if (proof.t !== 'proof') return refuse('PEER_E_MALFORMED_MESSAGE', 'expected a proof')
    const now = this.ctx.clock.now()
    this.failures = this.failures.filter((t) => t > now - MINUTE_MS)
    if (this.failures.length >= MAX_PASSWORD_FAILURES_PER_MINUTE) {
      return refuse('PEER_E_TOO_MUCH_LOAD', 'too many wrong passwords: try again in a minute')
    }
    if (!checkPasswordProof(props.password.key, proof.proof, hh, remote.peerId)) {
      this.failures.push(now)
      return refuse('PEER_E_NOT_AUTHORIZED', 'the password is wrong')
    }
    const leaf = this.leaf
    const peerNow = this.ctx.now()
    const lifetime = props.memberDataLifetime
    const chain = issueMembership({
      issuer: this.ctx.key,
      issuerChain: this.ctx.chain(),
      subjectKey: remote.publicKey,
      subjectName: remote.peerId,
      roles: [props.passwordRole],
      notBefore: Math.max(peerNow, leaf.notBefore),
      notAfter: lifetime > 0 ? Math.min(peerNow + lifetime * 1000, leaf.notAfter) : leaf.notAfter,
      random: this.ctx.random,
    })
    await send({ t: 'chain', chain: encodeChain(chain) })
  }
}

// ---- the joiner ------------------------------------------------------------------------------

export interface PasswordJoinParams {
  identity: Identity
  groupPeerName: string
  /** The group root the invitation carries: the authenticator's chain must start there. */
  root: Certificate
  /** The role the invitation promises (a UUID). */
  role: string
  password: string
  addresses: readonly { address: string; port: number }[]
  streams: StreamTransport
  clock: Clock
  random: Random
  signal?: AbortSignal
}

/**
 * Joins with the password at the first address whose member authenticates it; returns the
 * new member's chain. PEER_E_NOT_AUTHORIZED for a wrong password, PEER_E_CONNECTION_FAILED
 * when no member could be reached, the authenticator's chain errors when it is not a member.
 */
export async function passwordJoin(p: PasswordJoinParams): Promise<Certificate[]> {
  const manager = new ConnectionManager({
    credentials: new SessionCredentials(p.identity, p.random),
    context: graphContext(p.groupPeerName),
    streams: p.streams,
    clock: p.clock,
    random: p.random,
    payload: () => JOIN_REQUEST,
    authorize: (remote) => {
      const leaf = verifyMembership(decodeChain(remote.payload), {
        groupKey: p.root.subject,
        groupPeerName: p.groupPeerName,
        now: p.clock.now(),
      })
      if (!isCertificateOf(leaf, remote.publicKey, remote.peerName)) {
        throw new PeerError('PEER_E_CONNECTION_NOT_AUTHENTICATED', 'the chain is not the peer’s')
      }
      if (!mayIssue(leaf, [p.role])) {
        throw new PeerError(
          'PEER_E_NOT_AUTHORIZED',
          `${leaf.subjectName} may not admit password joiners`,
        )
      }
    },
  })
  const errors: PeerError[] = []
  try {
    for (const address of p.addresses) {
      let connection
      try {
        connection = await manager.connect(address, p.signal ? { signal: p.signal } : {})
      } catch (err) {
        if (p.signal?.aborted) throw abortError(p.signal, 'password join')
        errors.push(toPeerError(err, 'PEER_E_CONNECTION_FAILED', `cannot reach ${address.address}`))
        continue
      }
      try {
        return await exchange(
          p,
          connection.mux.open(JOIN_CHANNEL),
          connection.mux.session.handshakeHash,
        )
      } catch (err) {
        // A wrong password is the answer; anything else (a timeout, a busy or unfit member)
        // and the next member is tried.
        const error = toPeerError(err, 'PEER_E_CONNECTION_FAILED', 'the password join failed')
        if (error.code === 'PEER_E_NOT_AUTHORIZED' || p.signal?.aborted) throw error
        errors.push(error)
      } finally {
        connection.close()
      }
    }
  } finally {
    await manager.stop()
  }
  const authFailure = errors.find(
    (e) => e.code !== 'PEER_E_CONNECTION_FAILED' && e.code !== 'PEER_E_TIMEOUT',
  )
  throw (
    authFailure ??
    new PeerError('PEER_E_CONNECTION_FAILED', 'no member of the group could be reached to join', {
      details: { tried: p.addresses.length },
    })
  )
}

async function exchange(p: PasswordJoinParams, channel: Channel, hh: Uint8Array) {
  // One deadline for the whole exchange with this member, not one per message (the member
  // keeps one too): a member answering each step just in time must not hold us twice as long.
  const deadline = p.clock.now() + JOIN_TIMEOUT_MS
  await channel.send(encodeJoinMessage({ t: 'hello', v: GROUP_WIRE_VERSION }))
  const salt = await nextMessage(channel, p.clock, deadline, p.signal)
  if (salt.t === 'refused') throw new PeerError(refusalCode(salt.code), salt.reason)
  if (salt.t !== 'salt') throw new PeerError('PEER_E_MALFORMED_MESSAGE', 'expected the salt')
  const key = passwordKeyPair(p.password, salt.salt)
  await channel.send(
    encodeJoinMessage({ t: 'proof', proof: passwordProof(key, hh, p.identity.peerName) }),
  )
  const answer = await nextMessage(channel, p.clock, deadline, p.signal)
  if (answer.t === 'refused') throw new PeerError(refusalCode(answer.code), answer.reason)
  if (answer.t !== 'chain') throw new PeerError('PEER_E_MALFORMED_MESSAGE', 'expected a chain')
  const chain = decodeChain(answer.chain)
  const leaf = verifyMembership(chain, {
    groupKey: p.root.subject,
    groupPeerName: p.groupPeerName,
    now: p.clock.now(),
  })
  if (!isCertificateOf(leaf, p.identity.publicKey, p.identity.peerName)) {
    throw new PeerError(
      'PEER_E_INVALID_CREDENTIAL',
      'the member issued a certificate for someone else',
    )
  }
  return chain
}

const KNOWN_REFUSALS = [
  'PEER_E_NOT_AUTHORIZED',
  'PEER_E_TOO_MUCH_LOAD',
  'PEER_E_UNSUPPORTED_VERSION',
  'PEER_E_MALFORMED_MESSAGE',
] as const

function refusalCode(code: string): (typeof KNOWN_REFUSALS)[number] {
  return (KNOWN_REFUSALS as readonly string[]).includes(code)
    ? (code as (typeof KNOWN_REFUSALS)[number])
    : 'PEER_E_NOT_AUTHORIZED'
}
