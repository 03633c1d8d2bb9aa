/** peerinfra: the Windows Peer Infrastructure for Node.js. */
export { PeerNode, type PeerNodeOptions, resolveDataDir, HOME_ENV_VAR } from './node/index.ts'
export {
  PeerName,
  Identity,
  IdentityStore,
  Certificate,
  KeyPair,
  PublicKey,
  issueCertificate,
  verifyChain,
  parseIdentityInfo,
  type IdentitySummary,
  type CertificateType,
} from './identity/index.ts'
export {
  PeerError,
  isPeerError,
  PEER_ERROR_HRESULTS,
  type PeerErrorCode,
  SystemClock,
  VirtualClock,
  systemClock,
  type Clock,
  type Timer,
  SystemRandom,
  SeededRandom,
  systemRandom,
  type Random,
  TypedEmitter,
  type EventOf,
  createLogger,
  setLogSink,
  setLogPatterns,
  type Logger,
} from './core/index.ts'
export * from './pnrp/index.ts'
export * from './graph/index.ts'
export * from './group/index.ts'
