/**
 * PeerError: the one error class of peerinfra. `code` is the Windows name of the error where
 * Windows has one (p2p.h, FACILITY_P2P = 99), so users can map Windows documentation; codes
 * marked "peerinfra" are ours, for failures Windows had no name for.
 */

const FACILITY_P2P = 0x8063_0000
const FACILITY_WIN32 = 0x8007_0000
/** Extensions live in a block of FACILITY_P2P that p2p.h leaves unused. */
const PEERINFRA_EXT = 0x8063_f000

/** HRESULT of every error code, as in p2p.h / winerror.h. */
export const PEER_ERROR_HRESULTS = {
  // generic COM/Win32 errors Windows' peer APIs return
  E_INVALIDARG: 0x8007_0057,
  E_OUTOFMEMORY: 0x8007_000e,
  E_ABORT: 0x8000_4004,
  E_ACCESSDENIED: 0x8007_0005,
  E_UNEXPECTED: 0x8000_ffff,

  PEER_E_IPV6_NOT_INSTALLED: FACILITY_P2P | 0x0001,
  PEER_E_NOT_INITIALIZED: FACILITY_P2P | 0x0002,
  PEER_E_CANNOT_START_SERVICE: FACILITY_P2P | 0x0003,
  PEER_E_INVALID_GRAPH: FACILITY_P2P | 0x0010,
  PEER_E_DBNAME_CHANGED: FACILITY_P2P | 0x0011,
  PEER_E_DUPLICATE_GRAPH: FACILITY_P2P | 0x0012,
  PEER_E_GRAPH_NOT_READY: FACILITY_P2P | 0x0013,
  PEER_E_GRAPH_SHUTTING_DOWN: FACILITY_P2P | 0x0014,
  PEER_E_GRAPH_IN_USE: FACILITY_P2P | 0x0015,
  PEER_E_INVALID_DATABASE: FACILITY_P2P | 0x0016,
  PEER_E_TOO_MANY_ATTRIBUTES: FACILITY_P2P | 0x0017,
  PEER_E_CONNECTION_NOT_FOUND: FACILITY_P2P | 0x0103,
  PEER_E_CONNECT_SELF: FACILITY_P2P | 0x0106,
  PEER_E_ALREADY_LISTENING: FACILITY_P2P | 0x0107,
  PEER_E_NODE_NOT_FOUND: FACILITY_P2P | 0x0108,
  PEER_E_CONNECTION_FAILED: FACILITY_P2P | 0x0109,
  PEER_E_CONNECTION_NOT_AUTHENTICATED: FACILITY_P2P | 0x010a,
  PEER_E_CONNECTION_REFUSED: FACILITY_P2P | 0x010b,
  PEER_E_CLASSIFIER_TOO_LONG: FACILITY_P2P | 0x0201,
  PEER_E_TOO_MANY_IDENTITIES: FACILITY_P2P | 0x0202,
  PEER_E_NO_KEY_ACCESS: FACILITY_P2P | 0x0203,
  PEER_E_GROUPS_EXIST: FACILITY_P2P | 0x0204,
  PEER_E_RECORD_NOT_FOUND: FACILITY_P2P | 0x0301,
  PEER_E_DATABASE_ACCESSDENIED: FACILITY_P2P | 0x0302,
  PEER_E_DBINITIALIZATION_FAILED: FACILITY_P2P | 0x0303,
  PEER_E_MAX_RECORD_SIZE_EXCEEDED: FACILITY_P2P | 0x0304,
  PEER_E_DATABASE_ALREADY_PRESENT: FACILITY_P2P | 0x0305,
  PEER_E_DATABASE_NOT_PRESENT: FACILITY_P2P | 0x0306,
  PEER_E_IDENTITY_NOT_FOUND: FACILITY_P2P | 0x0401,
  PEER_E_EVENT_HANDLE_NOT_FOUND: FACILITY_P2P | 0x0501,
  PEER_E_INVALID_SEARCH: FACILITY_P2P | 0x0601,
  PEER_E_INVALID_ATTRIBUTES: FACILITY_P2P | 0x0602,
  PEER_E_INVITATION_NOT_TRUSTED: FACILITY_P2P | 0x0701,
  PEER_E_CERTIFICATE_NOT_TRUSTED: FACILITY_P2P | 0x0702,
  PEER_E_CHAIN_TOO_LONG: FACILITY_P2P | 0x0703,
  PEER_E_INVALID_TIME_PERIOD: FACILITY_P2P | 0x0705,
  PEER_E_CIRCULAR_CHAIN_DETECTED: FACILITY_P2P | 0x0706,
  PEER_E_CERT_STORE_CORRUPTED: FACILITY_P2P | 0x0801,
  PEER_E_NO_CLOUD: FACILITY_P2P | 0x1001,
  PEER_E_CLOUD_NAME_AMBIGUOUS: FACILITY_P2P | 0x1005,
  PEER_E_INVALID_RECORD: FACILITY_P2P | 0x2010,
  PEER_E_NOT_AUTHORIZED: FACILITY_P2P | 0x2020,
  PEER_E_PASSWORD_DOES_NOT_MEET_POLICY: FACILITY_P2P | 0x2021,
  PEER_E_DEFERRED_VALIDATION: FACILITY_P2P | 0x2030,
  PEER_E_INVALID_GROUP_PROPERTIES: FACILITY_P2P | 0x2040,
  PEER_E_INVALID_PEER_NAME: FACILITY_P2P | 0x2050,
  PEER_E_INVALID_CLASSIFIER: FACILITY_P2P | 0x2060,
  PEER_E_INVALID_FRIENDLY_NAME: FACILITY_P2P | 0x2070,
  PEER_E_INVALID_ROLE_PROPERTY: FACILITY_P2P | 0x2071,
  PEER_E_INVALID_CLASSIFIER_PROPERTY: FACILITY_P2P | 0x2072,
  PEER_E_INVALID_RECORD_EXPIRATION: FACILITY_P2P | 0x2080,
  PEER_E_INVALID_CREDENTIAL_INFO: FACILITY_P2P | 0x2081,
  PEER_E_INVALID_CREDENTIAL: FACILITY_P2P | 0x2082,
  PEER_E_INVALID_RECORD_SIZE: FACILITY_P2P | 0x2083,
  PEER_E_UNSUPPORTED_VERSION: FACILITY_P2P | 0x2090,
  PEER_E_GROUP_NOT_READY: FACILITY_P2P | 0x2091,
  PEER_E_GROUP_IN_USE: FACILITY_P2P | 0x2092,
  PEER_E_INVALID_GROUP: FACILITY_P2P | 0x2093,
  PEER_E_NO_MEMBERS_FOUND: FACILITY_P2P | 0x2094,
  PEER_E_NO_MEMBER_CONNECTIONS: FACILITY_P2P | 0x2095,
  PEER_E_UNABLE_TO_LISTEN: FACILITY_P2P | 0x2096,
  PEER_E_IDENTITY_DELETED: FACILITY_P2P | 0x20a0,
  PEER_E_SERVICE_NOT_AVAILABLE: FACILITY_P2P | 0x20a1,
  PEER_E_CANNOT_CONVERT_PEER_NAME: FACILITY_P2P | 0x4001,
  PEER_E_INVALID_PEER_HOST_NAME: FACILITY_P2P | 0x4002,
  PEER_E_NO_MORE: FACILITY_P2P | 0x4003,
  PEER_E_PNRP_DUPLICATE_PEER_NAME: FACILITY_P2P | 0x4005,
  PEER_E_TIMEOUT: FACILITY_P2P | 0x7005,
  PEER_E_INVALID_ADDRESS: FACILITY_P2P | 0x7007,
  PEER_E_CLOUD_NOT_FOUND: FACILITY_WIN32 | 11501,
  PEER_E_CLOUD_DISABLED: FACILITY_WIN32 | 11502,
  PEER_E_INVALID_IDENTITY: FACILITY_WIN32 | 11503,
  PEER_E_TOO_MUCH_LOAD: FACILITY_WIN32 | 11504,
  PEER_E_CLOUD_IS_SEARCH_ONLY: FACILITY_WIN32 | 11505,
  PEER_E_DUPLICATE_PEER_NAME: FACILITY_WIN32 | 11508,
  PEER_E_CLOUD_IS_DEAD: FACILITY_WIN32 | 11509,
  PEER_E_NOT_FOUND: FACILITY_WIN32 | 0x0490,
  PEER_E_DISK_FULL: FACILITY_WIN32 | 0x0070,
  PEER_E_ALREADY_EXISTS: FACILITY_WIN32 | 0x00b7,

  // peerinfra: failures Windows had no code for
  /** A certificate claims a lifetime beyond its issuer's (Windows refused these unnamed). */
  PEER_E_LIFETIME_EXCEEDS_ISSUER: PEERINFRA_EXT | 0x0001,
  /** Bytes from the network or a file that are not a well-formed message of the expected kind. */
  PEER_E_MALFORMED_MESSAGE: PEERINFRA_EXT | 0x0002,
  /** An input is larger than the named limit allows. */
  PEER_E_TOO_LARGE: PEERINFRA_EXT | 0x0003,
  /** An event subscriber fell so far behind that its bounded queue overflowed. */
  PEER_E_EVENT_QUEUE_OVERFLOW: PEERINFRA_EXT | 0x0004,
  /** An export or sealed blob could not be opened: wrong password, or altered bytes. */
  PEER_E_DECRYPTION_FAILED: PEERINFRA_EXT | 0x0005,
  /**
   * The graph publishes no presence (presenceMax 0), so its nodes cannot be enumerated.
   * windows-api.md names PEER_E_PRESENCE_DISABLED for EnumNodes; p2p.h gives no value for it.
   */
  PEER_E_PRESENCE_DISABLED: PEERINFRA_EXT | 0x0006,
} as const

export type PeerErrorCode = keyof typeof PEER_ERROR_HRESULTS

/** Success codes that are results, not errors (returned as values, never thrown). */
export const PEER_S_GRAPH_DATA_CREATED = 'PEER_S_GRAPH_DATA_CREATED'
export const PEER_S_NO_EVENT_DATA = 'PEER_S_NO_EVENT_DATA'
export const PEER_S_ALREADY_CONNECTED = 'PEER_S_ALREADY_CONNECTED'
export const PEER_S_ALREADY_A_MEMBER = 'PEER_S_ALREADY_A_MEMBER'

export interface PeerErrorOptions {
  cause?: unknown
  /** Machine-readable context (a field path, a limit, the value seen). */
  details?: Record<string, unknown>
}

export class PeerError extends Error {
  override readonly name = 'PeerError'
  readonly code: PeerErrorCode
  /** The 32-bit HRESULT, as an unsigned number (0x8063xxxx for FACILITY_P2P). */
  readonly hresult: number
  readonly details: Record<string, unknown> | undefined

  constructor(code: PeerErrorCode, message: string, options: PeerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.hresult = PEER_ERROR_HRESULTS[code] >>> 0
    this.details = options.details
  }

  /** `0x80630703`: the form Windows documentation and event logs print. */
  get hresultHex(): string {
    return '0x' + this.hresult.toString(16).padStart(8, '0')
  }

  toJSON(): { code: PeerErrorCode; hresult: string; message: string; details?: unknown } {
    return {
      code: this.code,
      hresult: this.hresultHex,
      message: this.message,
      ...(this.details ? { details: this.details } : {}),
    }
  }
}

export function isPeerError(err: unknown, code?: PeerErrorCode): err is PeerError {
  return err instanceof PeerError && (code === undefined || err.code === code)
}

/** Wraps anything thrown into a PeerError with `code`, keeping PeerErrors as they are. */
export function toPeerError(err: unknown, code: PeerErrorCode, message: string): PeerError {
  if (err instanceof PeerError) return err
  const why = err instanceof Error ? err.message : String(err)
  return new PeerError(code, `${message}: ${why}`, { cause: err })
}
