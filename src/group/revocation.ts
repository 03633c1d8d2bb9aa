/**
 * Revocation (peerinfra, beyond Windows): an admin's record that withdraws one membership
 * certificate from a given time. Every member then refuses that certificate's connections and
 * any record it signs from that time on. The revoked key could still sign records dated
 * before that time, so the revocation lists the records the certificate had signed as the
 * admin held them, by digest (`kept`): those stay valid, and no other record it signed does.
 */
import { DIGEST_BYTES } from '../graph/record-codec.ts'
import { MAX_PEER_NAME_BYTES, MAX_TIME_MS, SERIAL_BYTES } from '../identity/constants.ts'
import { PeerError } from '../core/errors.ts'
import { decodeMessage, encodeCbor, s } from '../wire/index.ts'
import { MAX_REVOCATION_KEPT_RECORDS } from './constants.ts'

const MAX_KEPT_BYTES = MAX_REVOCATION_KEPT_RECORDS * DIGEST_BYTES
/** The fixed fields' share of an encoded revocation (a generous bound). */
const FIXED_BYTES = 2048

const revocationSchema = s.struct({
  serial: s.bytes({ length: SERIAL_BYTES, max: SERIAL_BYTES }),
  peerName: s.text({ minBytes: 1, maxBytes: MAX_PEER_NAME_BYTES }),
  revokedAt: s.uint(MAX_TIME_MS),
  kept: s.optional(s.bytes({ max: MAX_KEPT_BYTES })),
})

export interface Revocation {
  /** The revoked membership certificate's serial. */
  serial: Uint8Array
  /** Its subject. */
  peerName: string
  /** From when records it signs are refused (ms since the epoch, peer time). */
  revokedAt: number
  /**
   * The digests (record-codec.ts) of the records it had signed that stay valid; left out (a
   * revocation too large to list them), every record it signed before `revokedAt` does.
   */
  kept?: readonly Uint8Array[]
}

export function encodeRevocation(r: Revocation): Uint8Array {
  const fields: Record<string, unknown> = {
    serial: r.serial,
    peerName: r.peerName,
    revokedAt: r.revokedAt,
  }
  if (r.kept !== undefined) {
    if (r.kept.length > MAX_REVOCATION_KEPT_RECORDS) {
      throw new PeerError(
        'PEER_E_TOO_LARGE',
        `a revocation lists at most ${MAX_REVOCATION_KEPT_RECORDS} records`,
      )
    }
    const kept = new Uint8Array(r.kept.length * DIGEST_BYTES)
    r.kept.forEach((digest, i) => {
      if (digest.length !== DIGEST_BYTES) {
        throw new PeerError('E_INVALIDARG', `a record digest is ${DIGEST_BYTES} bytes`)
      }
      kept.set(digest, i * DIGEST_BYTES)
    })
    fields['kept'] = kept
  }
  return encodeCbor(fields)
}

export function decodeRevocation(bytes: Uint8Array): Revocation {
  const m = decodeMessage(bytes, revocationSchema, {
    what: 'revocation',
    code: 'PEER_E_INVALID_RECORD',
    maxBytes: FIXED_BYTES + MAX_KEPT_BYTES,
  })
  const r: Revocation = { serial: m.serial, peerName: m.peerName, revokedAt: m.revokedAt }
  if (m.kept !== undefined) {
    if (m.kept.length % DIGEST_BYTES !== 0) {
      throw new PeerError(
        'PEER_E_INVALID_RECORD',
        `a revocation's kept list is a whole number of ${DIGEST_BYTES}-byte digests`,
      )
    }
    const kept: Uint8Array[] = []
    for (let at = 0; at < m.kept.length; at += DIGEST_BYTES) {
      kept.push(m.kept.subarray(at, at + DIGEST_BYTES))
    }
    r.kept = kept
  }
  return r
}
