/**
 * Group passwords (windows-api.md section 2, "Password groups"): the policy and the verifier
 * kept in the security-properties record. MS-PPSEC keeps an unsalted SHA-1 of the password
 * there, which lets any member answer for the password. Here scrypt (RFC 7914, random salt)
 * turns the password into an Ed25519 key pair; the record keeps only its public key, and a
 * joiner proves the password by signing with the private key. A member who reads the record
 * can neither join others with it nor learn the password without a dictionary attack at
 * scrypt's cost.
 */
import { scryptSync } from 'node:crypto'
import { PeerError } from '../core/errors.ts'
import type { Random } from '../core/random.ts'
import { KeyPair } from '../identity/keys.ts'
import { MAX_PASSWORD_BYTES } from '../identity/constants.ts'
import { MIN_PASSWORD_CHARS } from './constants.ts'
import type { GroupPasswordVerifier } from './properties.ts'

/** scrypt cost: N = 2^15, r = 8, p = 1 (32 MiB, about 0.1 s), per join attempt. */
const SCRYPT_N = 2 ** 15
const SCRYPT_R = 8
const SCRYPT_P = 1
const SALT_BYTES = 16
const SEED_BYTES = 32
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
 * The key pair a password and salt stand for. Synchronous on purpose: it runs once per group
 * creation or join (about 0.1 s), and a thread-pool job would be invisible to the simulator's
 * scheduler.
 */
export function passwordKeyPair(password: string, salt: Uint8Array): KeyPair {
  const seed = scryptSync(password.normalize('NFC'), salt, SEED_BYTES, {
    N: SCRYPT_N,
    r: SCRYPT_R,
    p: SCRYPT_P,
    maxmem: SCRYPT_MAX_MEMORY,
  })
  return KeyPair.fromSeed(new Uint8Array(seed.buffer, seed.byteOffset, seed.byteLength))
}

/** A new verifier for a group password (checked against the policy first): salt and public key. */
export function passwordVerifier(password: string, random: Random): GroupPasswordVerifier {
  const checked = checkPasswordPolicy(password)
  const salt = random.bytes(SALT_BYTES)
  return { salt, key: passwordKeyPair(checked, salt).publicKey.bytes }
}
