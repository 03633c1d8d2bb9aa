/**
 * Grouping's own messages: the password join (MS-PPSEC "Password authentication", its
 * Hello / MyGMC / Password / YourGMC steps) on the `group/join` channel of a connection whose
 * Noise handshake carried a join request instead of a membership chain. CBOR maps, `t` naming
 * the message; docs/PROTOCOL.md section 13 has them byte by byte.
 *
 *   joiner                                     authenticator (admin or inviting member)
 *   handshake payload: JOIN_REQUEST   ->
 *                                     <-       handshake payload: its membership chain
 *   (the joiner checks that chain against the invitation's group root)
 *   { t: 'hello', v: 1 }              ->
 *                                     <-       { t: 'salt', salt }
 *   { t: 'proof', proof }             ->       proof = Ed25519 signature by the key pair
 *                                                scrypt(password, salt) seeds, over
 *                                                "peerinfra/v1/group-password" 0x00 h joiner
 *                                     <-       { t: 'chain', chain } | { t: 'refused', code, reason }
 */
import { PeerError } from '../core/errors.ts'
import { decodeMessage, encodeCbor, s } from '../wire/index.ts'
import { GROUP_WIRE_VERSION, MAX_CHAIN_BYTES } from './constants.ts'

/** The channel a password joiner opens. */
export const JOIN_CHANNEL = 'group/join'
export const JOIN_REQUEST_KIND = 'password-join'
/** What a password joiner sends in the handshake where members send their chain. */
export const JOIN_REQUEST = encodeCbor({ v: GROUP_WIRE_VERSION, join: JOIN_REQUEST_KIND })
export const PROOF_BYTES = 64
const MAX_JOIN_MESSAGE_BYTES = MAX_CHAIN_BYTES + 256

const joinRequestSchema = s.struct({
  v: s.literal(GROUP_WIRE_VERSION),
  join: s.literal(JOIN_REQUEST_KIND),
})

const joinMessageSchema = s.struct({
  t: s.oneOf(['hello', 'salt', 'proof', 'chain', 'refused'] as const),
  v: s.optional(s.uint(255)),
  salt: s.optional(s.bytes({ min: 16, max: 64 })),
  proof: s.optional(s.bytes({ length: PROOF_BYTES, max: PROOF_BYTES })),
  chain: s.optional(s.bytes({ min: 1, max: MAX_CHAIN_BYTES })),
  code: s.optional(s.text({ maxBytes: 64 })),
  reason: s.optional(s.text({ maxBytes: 512 })),
})

export type JoinMessage =
  | { t: 'hello'; v: number }
  | { t: 'salt'; salt: Uint8Array }
  | { t: 'proof'; proof: Uint8Array }
  | { t: 'chain'; chain: Uint8Array }
  | { t: 'refused'; code: string; reason: string }

/** True when a handshake payload is a password join request (members send a chain). */
export function isJoinRequest(payload: Uint8Array): boolean {
  if (payload.length === 0 || payload.length > 64 || (payload[0]! & 0xe0) !== 0xa0) return false
  try {
    decodeMessage(payload, joinRequestSchema, { what: 'join request', maxBytes: 64 })
    return true
  } catch {
    return false
  }
}

export function encodeJoinMessage(m: JoinMessage): Uint8Array {
  return encodeCbor(m)
}

/** Parses a join message; PEER_E_MALFORMED_MESSAGE when it is not one or lacks its fields. */
export function decodeJoinMessage(bytes: Uint8Array): JoinMessage {
  const m = decodeMessage(bytes, joinMessageSchema, {
    what: 'group join message',
    maxBytes: MAX_JOIN_MESSAGE_BYTES,
  })
  const need = <T>(value: T | undefined, field: string): T => {
    if (value === undefined) {
      throw new PeerError('PEER_E_MALFORMED_MESSAGE', `a group ${m.t} message needs ${field}`)
    }
    return value
  }
  switch (m.t) {
    case 'hello':
      return { t: 'hello', v: need(m.v, 'v') }
    case 'salt':
      return { t: 'salt', salt: need(m.salt, 'salt') }
    case 'proof':
      return { t: 'proof', proof: need(m.proof, 'proof') }
    case 'chain':
      return { t: 'chain', chain: need(m.chain, 'chain') }
    case 'refused':
      return { t: 'refused', code: need(m.code, 'code'), reason: m.reason ?? '' }
  }
}
