/**
 * Group passwords (windows-api.md section 2, "Password groups"): the policy and the verifier
 * kept in the security-properties record. MS-PPSEC keeps an unsalted SHA-1 of the password
 * there; here it is an scrypt key (RFC 7914) with a random salt, so a member who reads the
 * record still needs a dictionary attack at scrypt's cost to learn the password.
 */
import { scryptSync } from 'node:crypto'
import { PeerError } from '../core/errors.ts'
import type { Random } from '../core/random.ts'
import { MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS } from './constants.ts'
import type { GroupPasswordVerifier } from './properties.ts'

/** scrypt cost: N = 2^15, r = 8, p = 1 (32 MiB, about 0.1 s), per join attempt. */
const SCRYPT_N = 2 ** 15
const SCRYPT_R = 8
const SCRYPT_P = 1
const SALT_BYTES = 16
const KEY_BYTES = 32
const SCRYPT_MAX_MEMORY = 64 * 1024 * 1024

/** PEER_E_PASSWORD_DOES_NOT_MEET_POLICY for a password under 8 characters (or not text). */
export function checkPasswordPolicy(password: unknown): string {
  if (typeof password !== 'string' || [...password].length < MIN_PASSWORD_CHARS) {
    throw new PeerError(
      'PEER_E_PASSWORD_DOES_NOT_MEET_POLICY',
      `a group password needs at least ${MIN_PASSWORD_CHARS} characters`,
    )
  }
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) {
    throw new PeerError(
      'PEER_E_PASSWORD_DOES_NOT_MEET_POLICY',
      `a group password is at most ${MAX_PASSWORD_BYTES} bytes`,
    )
  }
  return password.normalize('NFC')
}

/**
 * The scrypt key of a password. Synchronous on purpose: it runs once per group creation or
 * join (about 0.1 s), and a thread-pool job would be invisible to the simulator's scheduler.
 */
export function derivePasswordKey(password: string, salt: Uint8Array): Uint8Array {
  const key = scryptSync(password.normalize('NFC'), salt, KEY_BYTES, {
    N: SCRYPT_N,
    r: SCRYPT_R,
    p: SCRYPT_P,
    maxmem: SCRYPT_MAX_MEMORY,
  })
  return new Uint8Array(key.buffer, key.byteOffset, key.byteLength)
}

/** A new verifier for a group password (checked against the policy first). */
export function passwordVerifier(password: string, random: Random): GroupPasswordVerifier {
  const checked = checkPasswordPolicy(password)
  const salt = random.bytes(SALT_BYTES)
  return { salt, key: derivePasswordKey(checked, salt) }
}
