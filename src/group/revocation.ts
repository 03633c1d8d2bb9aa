/**
 * Revocation (peerinfra, beyond Windows): an admin's record that withdraws one membership
 * certificate from a given time. Every member then refuses that certificate's connections and
 * any record it signs from that time on; records it signed before stay valid.
 */
import { MAX_PEER_NAME_BYTES, MAX_TIME_MS, SERIAL_BYTES } from '../identity/constants.ts'
import { decodeMessage, encodeCbor, s } from '../wire/index.ts'

const revocationSchema = s.struct({
  serial: s.bytes({ length: SERIAL_BYTES, max: SERIAL_BYTES }),
  peerName: s.text({ minBytes: 1, maxBytes: MAX_PEER_NAME_BYTES }),
  revokedAt: s.uint(MAX_TIME_MS),
})

export interface Revocation {
  /** The revoked membership certificate's serial. */
  serial: Uint8Array
  /** Its subject. */
  peerName: string
  /** From when records it signs are refused (ms since the epoch, peer time). */
  revokedAt: number
}

export function encodeRevocation(r: Revocation): Uint8Array {
  return encodeCbor({ serial: r.serial, peerName: r.peerName, revokedAt: r.revokedAt })
}

export function decodeRevocation(bytes: Uint8Array): Revocation {
  return decodeMessage(bytes, revocationSchema, {
    what: 'revocation',
    code: 'PEER_E_INVALID_RECORD',
    maxBytes: 2048,
  })
}
