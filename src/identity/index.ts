export * from './constants.ts'
export { PeerName, normalizeClassifier, type HasPeerName } from './peer-name.ts'
export { KeyPair, PublicKey, authorityOf, domainSeparated } from './keys.ts'
export {
  Certificate,
  CERTIFICATE_TYPES,
  issueCertificate,
  verifyChain,
  type CertificateFields,
  type CertificateType,
  type ChainOptions,
  type IssueParams,
} from './certificate.ts'
export { Identity, normalizeFriendlyName, type IdentitySummary } from './identity.ts'
export { identityInfoXml, parseIdentityInfo, type IdentityInfo } from './identity-info.ts'
export { exportIdentity, importIdentity, type ExportOptions } from './identity-export.ts'
export {
  IdentityStore,
  type GroupsProvider,
  type StoreProblem,
  type IdentityStoreOptions,
} from './store.ts'
export { punycodeEncode, punycodeDecode } from './punycode.ts'
