/**
 * Identity Manager limits and parameters, with their sources. docs/LIMITS.md lists them.
 */

/** MS-PNRP 2.2.4 / PeerCreatePeerName: a classifier holds at most 149 characters (150 with NUL). */
export const MAX_CLASSIFIER_LENGTH = 149
/** PeerIdentityCreate: a friendly name holds at most 255 characters (256 with NUL). */
export const MAX_FRIENDLY_NAME_LENGTH = 255
/** Authority of a secured name: 40 lowercase hex characters (DESIGN.md section 3). */
export const AUTHORITY_HEX_LENGTH = 40
/** Authority bytes: the first 20 bytes of SHA-256 over the raw Ed25519 key. */
export const AUTHORITY_BYTES = 20
export const UNSECURED_AUTHORITY = '0'

/** RFC 1035: a DNS label holds at most 63 octets, a name at most 253 characters. */
export const MAX_DNS_LABEL_LENGTH = 63
export const MAX_DNS_NAME_LENGTH = 253
export const PNRP_HOST_SUFFIX = 'pnrp.net'

/** Ed25519 sizes (RFC 8032). */
export const PUBLIC_KEY_BYTES = 32
export const PRIVATE_SEED_BYTES = 32
export const SIGNATURE_BYTES = 64

/** Windows (GMC rules): a certificate chain is at most 24 long; 25 is PEER_E_CHAIN_TOO_LONG. */
export const MAX_CHAIN_LENGTH = 24
/** Windows: an "infinite" lifetime is 1000 years (the group creator's default). */
export const INFINITE_LIFETIME_MS = 1000 * 365.25 * 24 * 3600 * 1000
/** Serial numbers are 16 random bytes, as in MS-PNRP's delegation certificates. */
export const SERIAL_BYTES = 16
/** Roles and classifiers a certificate may carry, and their sizes. */
export const MAX_CERT_ROLES = 16
export const MAX_CERT_CLASSIFIERS = 16
export const MAX_ROLE_BYTES = 64
/** Peer names are at most 40 + 1 + 149 characters; 149 characters take up to 596 UTF-8 bytes. */
export const MAX_PEER_NAME_BYTES = 40 + 1 + 4 * MAX_CLASSIFIER_LENGTH
/** A friendly name of 255 characters takes up to 1020 UTF-8 bytes. */
export const MAX_FRIENDLY_NAME_BYTES = 4 * MAX_FRIENDLY_NAME_LENGTH
/**
 * Latest time a certificate or record may name: the end of the ECMAScript Date range
 * (+275760-09-13), so every time we accept can become a Date.
 */
export const MAX_TIME_MS = 8_640_000_000_000_000
/**
 * Clock skew tolerated when checking that a certificate has started to be valid: a certificate
 * issued a moment ago on a machine whose clock runs ahead is still accepted.
 */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000
/** Bound on a certificate's signed part (the largest legal one is about 11 KB). */
export const MAX_CERTIFICATE_BYTES = 16 * 1024
/** The `[tbs, signature]` envelope around it: array and length headers plus the signature. */
export const MAX_CERTIFICATE_ENVELOPE_BYTES = MAX_CERTIFICATE_BYTES + 128
/** Certificate format version understood. */
export const CERTIFICATE_VERSION = 1

/** PEER_E_TOO_MANY_IDENTITIES: identities one store holds. */
export const MAX_IDENTITIES = 1000
/** Largest identity file read back from disk. */
export const MAX_IDENTITY_FILE_BYTES = 64 * 1024
export const IDENTITY_FILE_VERSION = 1
export const STORE_CONFIG_VERSION = 1
/**
 * A temporary file older than this in the store folder was left by a crash (writes take
 * milliseconds) and is removed at open; a younger one may be another process's write.
 */
export const STALE_TEMP_FILE_MS = 10 * 60 * 1000

/** Identity export: scrypt (RFC 7914) cost. N = 2^17, r = 8, p = 1 (128 MiB, OWASP 2023). */
export const EXPORT_SCRYPT_LOG_N = 17
export const EXPORT_SCRYPT_R = 8
export const EXPORT_SCRYPT_P = 1
/** Imports accept an exporter's cost of N = 2^10 .. 2^18, r 1..8, p 1..4: at most 256 MiB. */
export const IMPORT_SCRYPT_LOG_N_MIN = 10
export const IMPORT_SCRYPT_LOG_N_MAX = 18
export const IMPORT_SCRYPT_R_MAX = 8
export const IMPORT_SCRYPT_P_MAX = 4
export const EXPORT_SALT_BYTES = 16
/** ChaCha20-Poly1305 (RFC 8439) nonce and tag. */
export const EXPORT_NONCE_BYTES = 12
export const AEAD_TAG_BYTES = 16
export const EXPORT_FORMAT_VERSION = 1
/** Largest `<PEERIDENTITYEXPORT>` or `<PEERIDENTITYINFO>` document read. */
export const MAX_IDENTITY_XML_BYTES = 64 * 1024
/** Passwords for exports: at least 1 character, at most 1024 bytes. */
export const MAX_PASSWORD_BYTES = 1024

/** The XML datatypes namespace Windows puts on base64 elements. */
export const XML_DATATYPES_NS = 'urn:schemas-microsoft-com:datatypes'
export const XML_VERSION = '1.0'

/** Domain-separation prefixes: every signature and key derivation names what it is for. */
export const DOMAIN = {
  certificate: 'peerinfra/v1/certificate',
  exportKey: 'peerinfra/v1/identity-export',
} as const
