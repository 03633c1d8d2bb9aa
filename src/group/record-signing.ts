/**
 * Record signing (MS-PPSEC "Record signing", on Ed25519). A group record's security data is
 * 96 bytes, as MS-PPSEC lays it out: the creator's membership certificate serial (16), the
 * modifier's (16), then the modifier's signature (64, RSA's 128 in MS-PPSEC). The signature
 * covers `"peerinfra/v1/group-record" 0x00` and MS-PPSEC's big-endian canonical form of the
 * record: 0x60, the group peer name (u16 length + UTF-8; ours, so that a record cannot be
 * replayed into another group), type (16), id (16), version (u32), flags (u32), created, expires, modified
 * (i64 ms each), creator and modifier (u16 length + UTF-8), the attributes (u16 count; each
 * u16 length + UTF-8 name, u8 type 0 string / 1 int / 2 date, then u32 length + UTF-8, i32,
 * or i64 ms), the data (u32 length + bytes) and the two serials. A fixed layout rather than
 * CBOR: every node rebuilds it for every record it validates, and it costs a few microseconds
 * (docs/PROTOCOL.md section 13). The security-properties record is signed the same way with
 * the group key, both serials being the group root's.
 */
import { PeerError } from '../core/errors.ts'
import { SERIAL_BYTES, SIGNATURE_BYTES } from '../identity/constants.ts'
import type { KeyPair, PublicKey } from '../identity/keys.ts'
import type { GraphRecord } from '../graph/records.ts'
import { GROUP_DOMAIN } from './constants.ts'

/** MS-PPSEC: the canonical form starts with this byte. */
const FORM_TAG = 0x60
export const SECURITY_DATA_BYTES = SERIAL_BYTES * 2 + SIGNATURE_BYTES
const VALUE_TYPE_CODES = { string: 0, int: 1, date: 2 } as const
const TWO_32 = 2 ** 32

function guidBytes(guid: string, into: Buffer, at: number): number {
  into.write(guid.replace(/-/g, ''), at, 16, 'hex')
  return at + 16
}

function writeI64(into: Buffer, at: number, v: number): number {
  const high = Math.floor(v / TWO_32)
  into.writeInt32BE(high, at)
  into.writeUInt32BE(v - high * TWO_32, at + 4)
  return at + 8
}

/** The bytes a record's signature covers (without the domain prefix). */
export function signedBytes(
  group: string,
  r: GraphRecord,
  creatorSerial: Uint8Array,
  modifierSerial: Uint8Array,
): Uint8Array {
  const groupLength = Buffer.byteLength(group, 'utf8')
  const creatorLength = Buffer.byteLength(r.creator, 'utf8')
  const modifierLength = Buffer.byteLength(r.modifiedBy, 'utf8')
  let size =
    1 + 2 + groupLength + 16 + 16 + 4 + 4 + 8 * 3 + 2 + creatorLength + 2 + modifierLength + 2
  for (const a of r.attributes) {
    size += 2 + Buffer.byteLength(a.name, 'utf8') + 1
    size += a.type === 'string' ? 4 + Buffer.byteLength(a.value, 'utf8') : a.type === 'int' ? 4 : 8
  }
  size += 4 + r.data.length + SERIAL_BYTES * 2
  const b = Buffer.allocUnsafe(size)
  let at = b.writeUInt8(FORM_TAG, 0)
  at = b.writeUInt16BE(groupLength, at)
  at += b.write(group, at, 'utf8')
  at = guidBytes(r.type, b, at)
  at = guidBytes(r.id, b, at)
  at = b.writeUInt32BE(r.version, at)
  at = b.writeUInt32BE(r.flags, at)
  at = writeI64(b, at, r.createdAt)
  at = writeI64(b, at, r.expiresAt)
  at = writeI64(b, at, r.modifiedAt)
  at = b.writeUInt16BE(creatorLength, at)
  at += b.write(r.creator, at, 'utf8')
  at = b.writeUInt16BE(modifierLength, at)
  at += b.write(r.modifiedBy, at, 'utf8')
  at = b.writeUInt16BE(r.attributes.length, at)
  for (const a of r.attributes) {
    at = b.writeUInt16BE(Buffer.byteLength(a.name, 'utf8'), at)
    at += b.write(a.name, at, 'utf8')
    at = b.writeUInt8(VALUE_TYPE_CODES[a.type], at)
    if (a.type === 'string') {
      at = b.writeUInt32BE(Buffer.byteLength(a.value, 'utf8'), at)
      at += b.write(a.value, at, 'utf8')
    } else if (a.type === 'int') {
      at = b.writeInt32BE(a.value, at)
    } else {
      at = writeI64(b, at, a.value)
    }
  }
  at = b.writeUInt32BE(r.data.length, at)
  b.set(r.data, at)
  at += r.data.length
  b.set(creatorSerial, at)
  b.set(modifierSerial, at + SERIAL_BYTES)
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

export interface RecordSignature {
  creatorSerial: Uint8Array
  modifierSerial: Uint8Array
  signature: Uint8Array
}

/** The security data for `r`, signed by `modifier` (the key of `modifierSerial`). */
export function signRecord(
  group: string,
  r: GraphRecord,
  creatorSerial: Uint8Array,
  modifierSerial: Uint8Array,
  modifier: KeyPair,
): Uint8Array {
  const signature = modifier.sign(
    GROUP_DOMAIN.record,
    signedBytes(group, r, creatorSerial, modifierSerial),
  )
  const out = new Uint8Array(SECURITY_DATA_BYTES)
  out.set(creatorSerial, 0)
  out.set(modifierSerial, SERIAL_BYTES)
  out.set(signature, SERIAL_BYTES * 2)
  return out
}

/** Parses a record's security data; PEER_E_INVALID_RECORD when it is not a group signature. */
export function readRecordSignature(r: GraphRecord): RecordSignature {
  const d = r.securityData
  if (d.length !== SECURITY_DATA_BYTES) {
    throw new PeerError('PEER_E_INVALID_RECORD', 'the record carries no group signature')
  }
  return {
    creatorSerial: d.subarray(0, SERIAL_BYTES),
    modifierSerial: d.subarray(SERIAL_BYTES, SERIAL_BYTES * 2),
    signature: d.subarray(SERIAL_BYTES * 2),
  }
}

/** True when `key` signed `r` with the serials it names. */
export function verifyRecordSignature(
  group: string,
  r: GraphRecord,
  sig: RecordSignature,
  key: PublicKey,
) {
  return key.verify(
    GROUP_DOMAIN.record,
    signedBytes(group, r, sig.creatorSerial, sig.modifierSerial),
    sig.signature,
  )
}
