/**
 * The group security provider (MS-PPSEC as Graphing's security provider; DESIGN.md 5.4):
 * connection authentication by membership chain inside the Noise handshake, record signing,
 * and record validation with deferral while a signer's certificate is unknown.
 *
 * Validation of a received or local record (MS-PPSEC "On receipt", in this order):
 *  1. its security data parses ([creatorSerial, modifierSerial, signature]);
 *  2. the security-properties record must be signed by the group key; a membership record's
 *     chain must verify for the group (its certificates are learned from it);
 *  3. the creator's and modifier's certificates are looked up; unknown -> deferred;
 *  4. they name the record's creator and modifier; if the modifier is revoked, the change
 *     predates the revocation and the revocation keeps it (revocation.ts); the change lies
 *     within the modifier's membership (and so does the record's lifetime);
 *  5. only an admin changes another member's record (Graphing's signature and contact records,
 *     which every node keeps up to date, excepted), and only admins revoke, never themselves;
 *  6. the modifier's signature verifies.
 */
import { toHex as hex } from '../core/bytes.ts'
import { PeerError } from '../core/errors.ts'
import type { Certificate } from '../identity/certificate.ts'
import { MAX_CLOCK_SKEW_MS, SERIAL_BYTES } from '../identity/constants.ts'
import type { KeyPair, PublicKey } from '../identity/keys.ts'
import {
  CONTACT_RECORD_TYPE,
  GRAPH_INFO_RECORD_TYPE,
  SIGNATURE_RECORD_TYPE,
} from '../graph/constants.ts'
import { digestHex, recordDigest } from '../graph/record-codec.ts'
import { isDeleted, type GraphRecord } from '../graph/records.ts'
import type {
  ConnectionVerdict,
  GraphSecurityProvider,
  ProviderChannelHandler,
  RecordChange,
  RemoteCredentials,
  Validation,
} from '../graph/security.ts'
import {
  MEMBERSHIP_RECORD_TYPE,
  REVOCATION_RECORD_TYPE,
  SECURITY_PROPERTIES_RECORD_TYPE,
} from './constants.ts'
import {
  decodeChain,
  encodeChain,
  isAdmin,
  isCertificateOf,
  serialOf,
  verifyMembership,
} from './credentials.ts'
import { MemberDirectory } from './directory.ts'
import { isJoinRequest, JOIN_CHANNEL } from './messages.ts'
import type { PasswordAuthenticator } from './password-join.ts'
import { propertiesFromRecord } from './properties.ts'
import { readRecordSignature, signRecord, verifyRecordSignature } from './record-signing.ts'
import { decodeRevocation } from './revocation.ts'

export const GROUP_PROVIDER_NAME = 'peerinfra-group/1'

/** Graphing's records every node rewrites, whoever created them. */
const SHARED_TYPES: readonly string[] = [SIGNATURE_RECORD_TYPE, CONTACT_RECORD_TYPE]
/**
 * Records whose lifetime is not bounded by their signer's membership: the graph's own info,
 * and revocations, which must outlive the certificate they revoke whoever signed them.
 */
const PERMANENT_TYPES: readonly string[] = [GRAPH_INFO_RECORD_TYPE, REVOCATION_RECORD_TYPE]
const NO_SERIAL = new Uint8Array(SERIAL_BYTES)

export interface GroupSecurityContext {
  groupPeerName: string
  /** The group root certificate. */
  root: Certificate
  /** This member's peer name and key. */
  peerName: string
  key: KeyPair
  /** This member's chain, root first (it may be renewed while the group is open). */
  chain: () => readonly Certificate[]
  /** The group key, held by the group's owner only. */
  ownerKey?: KeyPair
  /** Peer time, ms since the epoch. */
  now: () => number
  /** Told when certificates became known (deferred records may now validate). */
  onLearned?: () => void
  /**
   * Told when a revocation became known or stricter: `peerName` and the revoked serial (hex),
   * so the records it no longer keeps can go.
   */
  onRevoked?: (peerName: string, serialHex: string) => void
  onAuthenticationFailed?: (remote: RemoteCredentials, reason: string) => void
  /** Serves password joiners (password-join.ts). */
  passwordJoins?: PasswordAuthenticator
}

export class GroupSecurity implements GraphSecurityProvider {
  readonly name = GROUP_PROVIDER_NAME
  readonly providerChannels: Readonly<Record<string, ProviderChannelHandler>>
  readonly directory = new MemberDirectory()
  private readonly ctx: GroupSecurityContext
  private readonly groupKey: PublicKey

  constructor(ctx: GroupSecurityContext) {
    this.ctx = ctx
    this.groupKey = ctx.root.subject
    this.directory.learn(ctx.chain())
    const joins = ctx.passwordJoins
    this.providerChannels = joins
      ? { [JOIN_CHANNEL]: (channel, remote, hh) => joins.serve(channel, remote, hh) }
      : {}
  }

  /** The local member's certificate. */
  get certificate(): Certificate {
    const chain = this.ctx.chain()
    return chain[chain.length - 1] as Certificate
  }

  /** Verifies a chain for this group and learns its certificates; returns the member's. */
  acceptChain(chain: readonly Certificate[]): Certificate {
    const leaf = verifyMembership(chain, {
      groupKey: this.groupKey,
      groupPeerName: this.ctx.groupPeerName,
      now: this.ctx.now(),
    })
    if (this.directory.learn(chain)) this.ctx.onLearned?.()
    return leaf
  }

  // ---- records ---------------------------------------------------------------------------

  secureRecord(record: GraphRecord, change: RecordChange): Uint8Array {
    if (record.type === SECURITY_PROPERTIES_RECORD_TYPE) {
      if (!this.ctx.ownerKey) {
        throw new PeerError(
          'PEER_E_NOT_AUTHORIZED',
          "only the group's creator changes its properties",
        )
      }
      const rootSerial = this.ctx.root.serial
      return signRecord(this.ctx.groupPeerName, record, rootSerial, rootSerial, this.ctx.ownerKey)
    }
    const mine = this.certificate
    if (this.directory.revokedAt(mine) !== undefined) {
      throw new PeerError('PEER_E_NOT_AUTHORIZED', 'this membership has been revoked')
    }
    const shared = SHARED_TYPES.includes(record.type)
    if (record.modifiedBy !== this.ctx.peerName) {
      throw new PeerError(
        'PEER_E_NOT_AUTHORIZED',
        'a record is signed by the member that changes it',
      )
    }
    if (record.type === REVOCATION_RECORD_TYPE && !isAdmin(mine)) {
      throw new PeerError('PEER_E_NOT_AUTHORIZED', 'only admins revoke members')
    }
    if (record.creator !== this.ctx.peerName && !shared && !isAdmin(mine)) {
      throw new PeerError(
        'PEER_E_NOT_AUTHORIZED',
        `only an admin may ${change === 'deleted' ? 'delete' : 'change'} a record of another member`,
      )
    }
    if (!PERMANENT_TYPES.includes(record.type) && record.expiresAt > mine.notAfter) {
      throw new PeerError(
        'PEER_E_INVALID_RECORD_EXPIRATION',
        `a record may not outlive its publisher's membership (until ${new Date(mine.notAfter).toISOString()})`,
      )
    }
    const creator = this.creatorSerial(record, mine)
    return signRecord(this.ctx.groupPeerName, record, creator, mine.serial, this.ctx.key)
  }

  /** The creator's serial: ours, the one the record already names, or its latest known. */
  private creatorSerial(record: GraphRecord, mine: Certificate): Uint8Array {
    if (record.creator === this.ctx.peerName) return mine.serial
    if (record.securityData.length > 0) {
      try {
        return readRecordSignature(record).creatorSerial
      } catch {
        // fall through: a record of ours without a readable signature
      }
    }
    return this.directory.latest(record.creator)?.serial ?? NO_SERIAL
  }

  validateRecord(record: GraphRecord, _change: RecordChange): Validation {
    let sig
    try {
      sig = readRecordSignature(record)
    } catch {
      return 'reject'
    }
    if (record.type === SECURITY_PROPERTIES_RECORD_TYPE) return this.validateProperties(record, sig)
    // A membership record carries its creator's own chain, or one an admin stored for a member.
    let forAnother = false
    if (record.type === MEMBERSHIP_RECORD_TYPE && !isDeleted(record)) {
      try {
        forAnother = this.acceptChain(decodeChain(record.data)).subjectName !== record.creator
      } catch {
        return 'reject'
      }
    }
    const shared = SHARED_TYPES.includes(record.type)
    const modifier = this.directory.get(hex(sig.modifierSerial))
    const creator = shared ? undefined : this.directory.get(hex(sig.creatorSerial))
    if (!modifier || (!shared && !creator)) return 'defer'
    if (modifier.subjectName !== record.modifiedBy) return 'reject'
    if (creator && creator.subjectName !== record.creator) return 'reject'
    // A revoked signer's record stands only if the revocations keep it (revocation.ts).
    const digest = () => digestHex(recordDigest(record))
    if (!this.directory.allows(modifier, record.modifiedAt, digest)) return 'reject'
    if (!modifier.isValidAt(record.modifiedAt, MAX_CLOCK_SKEW_MS)) return 'reject'
    if (!PERMANENT_TYPES.includes(record.type) && record.expiresAt > modifier.notAfter) {
      return 'reject'
    }
    const adminOnly = record.type === REVOCATION_RECORD_TYPE || forAnother
    if ((adminOnly || (!shared && record.modifiedBy !== record.creator)) && !isAdmin(modifier)) {
      return 'reject'
    }
    if (!verifyRecordSignature(this.ctx.groupPeerName, record, sig, modifier.subject))
      return 'reject'
    if (record.type === REVOCATION_RECORD_TYPE && !isDeleted(record)) {
      if (!this.learnRevocation(record.data, { by: modifier })) return 'reject'
    }
    return 'accept'
  }

  /**
   * The digests of the stored records signed under the certificate `serialHex` or one it
   * issued (what a revocation of it keeps), found among what `storedBy` gives for a member.
   */
  recordsSignedUnder(
    serialHex: string,
    storedBy: (peerName: string) => readonly GraphRecord[],
  ): Uint8Array[] {
    const digests: Uint8Array[] = []
    for (const signer of this.directory.subjectsUnder(serialHex)) {
      for (const record of storedBy(signer)) {
        let modifier
        try {
          modifier = this.directory.get(hex(readRecordSignature(record).modifierSerial))
        } catch {
          continue
        }
        if (modifier && this.directory.isOnChainOf(serialHex, modifier)) {
          digests.push(recordDigest(record))
        }
      }
    }
    return digests
  }

  /**
   * Applies a revocation record's content (validated, or stored earlier); false if malformed,
   * or when `by` (its signer) revokes itself or a certificate above it.
   */
  learnRevocation(data: Uint8Array, options: { notify?: boolean; by?: Certificate } = {}): boolean {
    let r
    try {
      r = decodeRevocation(data)
    } catch {
      return false
    }
    const serial = hex(r.serial)
    // The serial must be the named member's, or the wrong member would be reported gone.
    const known = this.directory.get(serial)
    if (known && known.subjectName !== r.peerName) return false
    if (options.by && this.directory.isOnChainOf(serial, options.by)) return false
    const kept = r.kept && new Set(r.kept.map(digestHex))
    const changed = this.directory.revoke(serial, r.revokedAt, kept)
    if (changed && options.notify !== false) this.ctx.onRevoked?.(r.peerName, serial)
    return true
  }

  private validateProperties(
    record: GraphRecord,
    sig: ReturnType<typeof readRecordSignature>,
  ): Validation {
    const rootSerial = serialOf(this.ctx.root)
    if (hex(sig.creatorSerial) !== rootSerial || hex(sig.modifierSerial) !== rootSerial) {
      return 'reject'
    }
    if (!verifyRecordSignature(this.ctx.groupPeerName, record, sig, this.groupKey)) return 'reject'
    try {
      propertiesFromRecord(record, this.ctx.groupPeerName)
    } catch {
      return 'reject'
    }
    return 'accept'
  }

  // ---- connections -----------------------------------------------------------------------

  /** MS-PPSEC MyGMC: this member's chain, sent inside the Noise handshake. */
  connectionPayload(): Uint8Array {
    return encodeChain(this.ctx.chain())
  }

  /**
   * The other side's chain must verify for this group, name the key and peer name the Noise
   * handshake proved, and not be revoked. Throws the reason (a PeerError) to refuse.
   */
  authenticateConnection(remote: RemoteCredentials): ConnectionVerdict {
    if (isJoinRequest(remote.payload)) {
      // MS-PPSEC password authentication: admitted to the join channel only.
      const why = this.ctx.passwordJoins ? this.ctx.passwordJoins.refusal() : 'no password joins'
      if (why) throw new PeerError('PEER_E_CONNECTION_NOT_AUTHENTICATED', why)
      return 'restricted'
    }
    if (remote.payload.length === 0) {
      throw new PeerError('PEER_E_CONNECTION_NOT_AUTHENTICATED', 'the peer showed no membership')
    }
    const chain = decodeChain(remote.payload)
    const leaf = verifyMembership(chain, {
      groupKey: this.groupKey,
      groupPeerName: this.ctx.groupPeerName,
      now: this.ctx.now(),
    })
    if (!isCertificateOf(leaf, remote.publicKey, remote.peerId)) {
      throw new PeerError(
        'PEER_E_CONNECTION_NOT_AUTHENTICATED',
        'the membership certificate is not for the key that made the connection',
      )
    }
    if (this.directory.isChainRevoked(chain)) {
      throw new PeerError('PEER_E_CONNECTION_NOT_AUTHENTICATED', `${leaf.subjectName} is revoked`)
    }
    if (this.directory.learn(chain)) this.ctx.onLearned?.()
    return true
  }

  authenticationFailed(remote: RemoteCredentials, reason: string): void {
    this.ctx.onAuthenticationFailed?.(remote, reason)
  }
}
