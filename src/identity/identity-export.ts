/**
 * `<PEERIDENTITYEXPORT>` (PeerIdentityExport / PeerIdentityImport): an identity with its
 * private key, sealed under a password.
 *
 *   <PEERIDENTITYEXPORT VERSION="1.0"><PEERNAME>name</PEERNAME><DATA xmlns:dt="…"
 *   dt:dt="bin.base64">base64(CBOR envelope)</DATA></PEERIDENTITYEXPORT>
 *
 * envelope = {v: 1, kdf: "scrypt", logN, r, p, salt(16), nonce(12), ct}
 * key      = scrypt(NFC(password), salt, N = 2^logN, r, p, 32 bytes)
 * ct       = ChaCha20-Poly1305(key, nonce, plaintext, aad = "peerinfra/v1/identity-export" 0x00 name)
 * plaintext = CBOR {v: 1, seed(32), friendlyName, idc, createdAt}
 *
 * Import is all-or-nothing and byte-exact (Windows: tampering gives E_INVALIDARG): the document
 * must be exactly what export writes, and every check passes before anything is returned.
 */
import { createCipheriv, createDecipheriv, scrypt as scryptCb } from 'node:crypto'
import { utf8 } from '../core/bytes.ts'
import { PeerError } from '../core/errors.ts'
import type { Random } from '../core/random.ts'
import { decodeMessage, encodeCbor, s, serializeXml, textOf } from '../wire/index.ts'
import { Certificate, verifyChain } from './certificate.ts'
import {
  AEAD_TAG_BYTES,
  DOMAIN,
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
  MAX_CERTIFICATE_ENVELOPE_BYTES,
  MAX_FRIENDLY_NAME_BYTES,
  MAX_TIME_MS,
  MAX_PASSWORD_BYTES,
  PRIVATE_SEED_BYTES,
  XML_VERSION,
} from './constants.ts'
import { Identity } from './identity.ts'
import { base64Element, parseWindowsDocument, readBase64Element } from './identity-info.ts'
import { domainSeparated, KeyPair } from './keys.ts'

// The sealed plaintext: its fields at their largest, plus room for the CBOR map's keys and
// headers (under 128 bytes).
const MAX_PLAINTEXT_BYTES =
  PRIVATE_SEED_BYTES + MAX_FRIENDLY_NAME_BYTES + MAX_CERTIFICATE_ENVELOPE_BYTES + 128

const envelopeSchema = s.struct({
  v: s.literal(EXPORT_FORMAT_VERSION),
  kdf: s.literal('scrypt'),
  logN: s.int({ min: IMPORT_SCRYPT_LOG_N_MIN, max: IMPORT_SCRYPT_LOG_N_MAX }),
  r: s.int({ min: 1, max: IMPORT_SCRYPT_R_MAX }),
  p: s.int({ min: 1, max: IMPORT_SCRYPT_P_MAX }),
  salt: s.bytes({ length: EXPORT_SALT_BYTES, max: EXPORT_SALT_BYTES }),
  nonce: s.bytes({ length: EXPORT_NONCE_BYTES, max: EXPORT_NONCE_BYTES }),
  ct: s.bytes({ min: AEAD_TAG_BYTES, max: MAX_PLAINTEXT_BYTES + AEAD_TAG_BYTES }),
})

const plaintextSchema = s.struct({
  v: s.literal(EXPORT_FORMAT_VERSION),
  seed: s.bytes({ length: PRIVATE_SEED_BYTES, max: PRIVATE_SEED_BYTES }),
  friendlyName: s.text({ maxBytes: MAX_FRIENDLY_NAME_BYTES }),
  idc: s.bytes({ min: 1, max: MAX_CERTIFICATE_ENVELOPE_BYTES }),
  createdAt: s.uint(MAX_TIME_MS),
})

export interface ExportOptions {
  random: Random
  /** scrypt cost as log2(N); default 17. Lower only for tests. */
  logN?: number
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

export function checkPassword(password: string): void {
  if (typeof password !== 'string' || password.length === 0) {
    throw new PeerError(
      'PEER_E_PASSWORD_DOES_NOT_MEET_POLICY',
      'a password is required to export or import an identity',
    )
  }
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) {
    throw new PeerError(
      'PEER_E_PASSWORD_DOES_NOT_MEET_POLICY',
      `a password holds at most ${MAX_PASSWORD_BYTES} bytes`,
    )
  }
}

function exportDocument(peerName: string, data: Uint8Array): string {
  return serializeXml({
    name: 'PEERIDENTITYEXPORT',
    attributes: { VERSION: XML_VERSION },
    children: [
      { name: 'PEERNAME', attributes: {}, children: [peerName] },
      base64Element('DATA', data),
    ],
  })
}

export async function exportIdentity(
  identity: Identity,
  password: string,
  options: ExportOptions,
): Promise<string> {
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
  const plaintext = encodeCbor({
    v: EXPORT_FORMAT_VERSION,
    seed: identity.keyPair.exportSeed(),
    friendlyName: identity.friendlyName,
    idc: identity.certificate.encode(),
    createdAt: identity.createdAt.getTime(),
  })
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: AEAD_TAG_BYTES })
  cipher.setAAD(domainSeparated(DOMAIN.exportKey, utf8(identity.peerName)), {
    plaintextLength: plaintext.length,
  })
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()])
  const envelope = encodeCbor({
    v: EXPORT_FORMAT_VERSION,
    kdf: 'scrypt',
    logN,
    r: EXPORT_SCRYPT_R,
    p: EXPORT_SCRYPT_P,
    salt,
    nonce,
    ct,
  })
  return exportDocument(identity.peerName, envelope)
}

/**
 * Opens an export. Every failure is a PeerError: E_INVALIDARG for a document that is not
 * exactly an export, PEER_E_UNSUPPORTED_VERSION, PEER_E_DECRYPTION_FAILED for a wrong password
 * (or altered ciphertext, which cannot be told apart).
 */
export async function importIdentity(
  xml: string,
  password: string,
  options: { now: number },
): Promise<Identity> {
  checkPassword(password)
  const what = 'identity export (<PEERIDENTITYEXPORT>)'
  const text = typeof xml === 'string' ? xml.replace(/\r?\n$/, '') : xml
  const { children, bad } = parseWindowsDocument(text, 'PEERIDENTITYEXPORT')
  const [nameEl, dataEl, ...rest] = children
  if (nameEl?.name !== 'PEERNAME' || dataEl?.name !== 'DATA' || rest.length > 0) {
    throw bad('expected <PEERNAME> then <DATA>')
  }
  const peerName = textOf(nameEl)
  const data = readBase64Element(dataEl, bad)
  if (exportDocument(peerName, data) !== text)
    throw bad('it has been altered (an export must be byte-exact)')

  const env = decodeMessage(data, envelopeSchema, {
    what,
    code: 'E_INVALIDARG',
    versions: [EXPORT_FORMAT_VERSION],
  })
  const key = await scryptKey(password, env.salt, env.logN, env.r, env.p)
  let plaintext: Buffer
  try {
    const decipher = createDecipheriv('chacha20-poly1305', key, env.nonce, {
      authTagLength: AEAD_TAG_BYTES,
    })
    decipher.setAAD(domainSeparated(DOMAIN.exportKey, utf8(peerName)), {
      plaintextLength: env.ct.length - AEAD_TAG_BYTES,
    })
    decipher.setAuthTag(env.ct.subarray(env.ct.length - AEAD_TAG_BYTES))
    plaintext = Buffer.concat([
      decipher.update(env.ct.subarray(0, env.ct.length - AEAD_TAG_BYTES)),
      decipher.final(),
    ])
  } catch (err) {
    throw new PeerError(
      'PEER_E_DECRYPTION_FAILED',
      'the identity export could not be opened: wrong password, or the export has been altered',
      {
        cause: err,
      },
    )
  }
  const inner = decodeMessage(plaintext, plaintextSchema, {
    what,
    code: 'E_INVALIDARG',
    versions: [EXPORT_FORMAT_VERSION],
  })
  const keyPair = KeyPair.fromSeed(inner.seed)
  const certificate = Certificate.decode(inner.idc)
  verifyChain([certificate], { now: options.now })
  if (certificate.subjectName !== peerName || !keyPair.publicKey.equals(certificate.subjectKey)) {
    throw bad('its key, certificate and peer name do not belong together')
  }
  return new Identity(keyPair, certificate, inner.friendlyName, new Date(inner.createdAt))
}
