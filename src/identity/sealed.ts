/**
 * Password sealing: scrypt (RFC 7914) derives a key from the password, ChaCha20-Poly1305
 * (RFC 8439) seals the plaintext with additional data naming what it is. Used by identity
 * exports and group config exports.
 *
 * envelope = CBOR {v: 1, kdf: "scrypt", logN, r, p, salt(16), nonce(12), ct}
 * key      = scrypt(NFC(password), salt, N = 2^logN, r, p, 32 bytes)
 * ct       = ChaCha20-Poly1305(key, nonce, plaintext, aad)
 */
import { createCipheriv, createDecipheriv, scrypt as scryptCb } from 'node:crypto'
import { utf8 } from '../core/bytes.ts'
import { PeerError } from '../core/errors.ts'
import type { Random } from '../core/random.ts'
import { decodeMessage, encodeCbor, s } from '../wire/index.ts'
import {
  AEAD_TAG_BYTES,
  EXPORT_FORMAT_VERSION,
  EXPORT_NONCE_BYTES,
  EXPORT_SALT_BYTES,
  EXPORT_SCRYPT_LOG_N,
  EXPORT_SCRYPT_P,
  EXPORT_SCRYPT_R,
  IMPORT_SCRYPT_LOG_N_MAX,
  IMPORT_SCRYPT_LOG_N_MIN,
  IMPORT_SCRYPT_P_MAX,
  IMPORT_SCRYPT_R_MAX,
  MAX_PASSWORD_BYTES,
} from './constants.ts'

export interface SealOptions {
  random: Random
  /** scrypt cost as log2(N); default 17. Lower only for tests. */
  logN?: number
}

function envelopeSchema(maxPlaintextBytes: number) {
  return s.struct({
    v: s.literal(EXPORT_FORMAT_VERSION),
    kdf: s.literal('scrypt'),
    logN: s.int({ min: IMPORT_SCRYPT_LOG_N_MIN, max: IMPORT_SCRYPT_LOG_N_MAX }),
    r: s.int({ min: 1, max: IMPORT_SCRYPT_R_MAX }),
    p: s.int({ min: 1, max: IMPORT_SCRYPT_P_MAX }),
    salt: s.bytes({ length: EXPORT_SALT_BYTES, max: EXPORT_SALT_BYTES }),
    nonce: s.bytes({ length: EXPORT_NONCE_BYTES, max: EXPORT_NONCE_BYTES }),
    ct: s.bytes({ min: AEAD_TAG_BYTES, max: maxPlaintextBytes + AEAD_TAG_BYTES }),
  })
}

/** Scrypt memory use is 128 * N * r bytes; allow that plus slack. */
function scryptKey(
  password: string,
  salt: Uint8Array,
  logN: number,
  r: number,
  p: number,
): Promise<Buffer> {
  const N = 2 ** logN
  return new Promise((resolve, reject) => {
    scryptCb(
      utf8(password.normalize('NFC')),
      salt,
      32,
      { N, r, p, maxmem: 128 * N * r + 16 * 1024 * 1024 },
      (err, key) =>
        err
          ? reject(
              new PeerError('E_INVALIDARG', `scrypt refused the export's cost: ${err.message}`, {
                cause: err,
              }),
            )
          : resolve(key),
    )
  })
}

/** PEER_E_PASSWORD_DOES_NOT_MEET_POLICY for an empty or oversized password. */
export function checkPassword(password: string): void {
  if (typeof password !== 'string' || password.length === 0) {
    throw new PeerError(
      'PEER_E_PASSWORD_DOES_NOT_MEET_POLICY',
      'a password is required to export or import',
    )
  }
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) {
    throw new PeerError(
      'PEER_E_PASSWORD_DOES_NOT_MEET_POLICY',
      `a password holds at most ${MAX_PASSWORD_BYTES} bytes`,
    )
  }
}

/** Seals `plaintext` under `password`; `aad` binds it to what it is. */
export async function sealWithPassword(
  plaintext: Uint8Array,
  password: string,
  aad: Uint8Array,
  options: SealOptions,
): Promise<Uint8Array> {
  checkPassword(password)
  const logN = options.logN ?? EXPORT_SCRYPT_LOG_N
  if (!Number.isInteger(logN) || logN < IMPORT_SCRYPT_LOG_N_MIN || logN > IMPORT_SCRYPT_LOG_N_MAX) {
    throw new PeerError(
      'E_INVALIDARG',
      `scrypt logN must be ${IMPORT_SCRYPT_LOG_N_MIN}..${IMPORT_SCRYPT_LOG_N_MAX}`,
    )
  }
  const salt = options.random.bytes(EXPORT_SALT_BYTES)
  const nonce = options.random.bytes(EXPORT_NONCE_BYTES)
  const key = await scryptKey(password, salt, logN, EXPORT_SCRYPT_R, EXPORT_SCRYPT_P)
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: AEAD_TAG_BYTES })
  cipher.setAAD(aad, { plaintextLength: plaintext.length })
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()])
  return encodeCbor({
    v: EXPORT_FORMAT_VERSION,
    kdf: 'scrypt',
    logN,
    r: EXPORT_SCRYPT_R,
    p: EXPORT_SCRYPT_P,
    salt,
    nonce,
    ct,
  })
}

/**
 * Opens a sealed envelope: E_INVALIDARG when it is not one, PEER_E_UNSUPPORTED_VERSION,
 * PEER_E_DECRYPTION_FAILED for a wrong password or altered bytes (which cannot be told apart).
 */
export async function openWithPassword(
  envelope: Uint8Array,
  password: string,
  aad: Uint8Array,
  what: string,
  maxPlaintextBytes: number,
): Promise<Buffer> {
  checkPassword(password)
  const env = decodeMessage(envelope, envelopeSchema(maxPlaintextBytes), {
    what,
    code: 'E_INVALIDARG',
    versions: [EXPORT_FORMAT_VERSION],
  })
  const key = await scryptKey(password, env.salt, env.logN, env.r, env.p)
  try {
    const decipher = createDecipheriv('chacha20-poly1305', key, env.nonce, {
      authTagLength: AEAD_TAG_BYTES,
    })
    decipher.setAAD(aad, { plaintextLength: env.ct.length - AEAD_TAG_BYTES })
    decipher.setAuthTag(env.ct.subarray(env.ct.length - AEAD_TAG_BYTES))
    return Buffer.concat([
      decipher.update(env.ct.subarray(0, env.ct.length - AEAD_TAG_BYTES)),
      decipher.final(),
    ])
  } catch (err) {
    throw new PeerError(
      'PEER_E_DECRYPTION_FAILED',
      `the ${what} could not be opened: wrong password, or it has been altered`,
      { cause: err },
    )
  }
}
