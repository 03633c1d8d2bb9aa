/**
 * Record signing (MS-PPSEC "Record signing", on Ed25519): a group record's security data is
 * CBOR `[creatorSerial, modifierSerial, signature]`, the serials of the creator's and the
 * modifier's membership certificates and the modifier's signature over
 * `"peerinfra/v1/group-record" || 0x00 || CBOR [record, creatorSerial, modifierSerial]`,
 * where `record` is the record's canonical encoding (record-codec.ts) with empty security
 * data. Records are canonical on the wire (decodeRecord refuses any other encoding), so
 * every node rebuilds the same bytes. The security-properties record is signed the same way
 * with the group key, both serials being the group root's.
 */
import { PeerError } from '../core/errors.ts'
import { SERIAL_BYTES, SIGNATURE_BYTES } from '../identity/constants.ts'
import type { KeyPair, PublicKey } from '../identity/keys.ts'
import { encodeRecord } from '../graph/record-codec.ts'
import type { GraphRecord } from '../graph/records.ts'
import { decodeMessage, encodeCbor, s } from '../wire/index.ts'
import { GROUP_DOMAIN, SECURITY_DATA_MAX_BYTES } from './constants.ts'

const securityDataSchema = s.tuple([
  s.bytes({ length: SERIAL_BYTES, max: SERIAL_BYTES }),
  s.bytes({ length: SERIAL_BYTES, max: SERIAL_BYTES }),
  s.bytes({ length: SIGNATURE_BYTES, max: SIGNATURE_BYTES }),
])

export interface RecordSignature {
  creatorSerial: Uint8Array
  modifierSerial: Uint8Array
  signature: Uint8Array
}

function signedBytes(r: GraphRecord, creatorSerial: Uint8Array, modifierSerial: Uint8Array) {
  const unsigned = encodeRecord({ ...r, securityData: new Uint8Array(0) })
  return encodeCbor([unsigned, creatorSerial, modifierSerial])
}

/** The security data for `r`, signed by `modifier` (the key of `modifierSerial`). */
export function signRecord(
  r: GraphRecord,
  creatorSerial: Uint8Array,
  modifierSerial: Uint8Array,
  modifier: KeyPair,
): Uint8Array {
  const signature = modifier.sign(
    GROUP_DOMAIN.record,
    signedBytes(r, creatorSerial, modifierSerial),
  )
  return encodeCbor([creatorSerial, modifierSerial, signature])
}

/** Parses a record's security data; PEER_E_INVALID_RECORD when it is not a group signature. */
export function readRecordSignature(r: GraphRecord): RecordSignature {
  if (r.securityData.length === 0 || r.securityData.length > SECURITY_DATA_MAX_BYTES) {
    throw new PeerError('PEER_E_INVALID_RECORD', 'the record carries no group signature')
  }
  const [creatorSerial, modifierSerial, signature] = decodeMessage(
    r.securityData,
    securityDataSchema,
    { what: 'record security data', code: 'PEER_E_INVALID_RECORD' },
  )
  return { creatorSerial, modifierSerial, signature }
}

/** True when `key` signed `r` with the serials it names. */
export function verifyRecordSignature(r: GraphRecord, sig: RecordSignature, key: PublicKey) {
  return key.verify(
    GROUP_DOMAIN.record,
    signedBytes(r, sig.creatorSerial, sig.modifierSerial),
    sig.signature,
  )
}
