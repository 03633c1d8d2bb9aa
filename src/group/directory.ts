/**
 * The membership certificates a member knows (MS-PPSEC: the Membership records, and the
 * chains peers showed in their handshakes), by serial and by member, with each one's issuer,
 * and the revoked ones. Only chains that verified for the group enter it. A revocation reaches
 * down the chain: a certificate is revoked from the earliest revocation of itself or of any
 * certificate above it (a revoked admin could otherwise go on issuing, backdated).
 */
import type { Certificate } from '../identity/certificate.ts'
import { MAX_CHAIN_LENGTH } from '../identity/constants.ts'
import { serialOf } from './credentials.ts'

interface RevokedEntry {
  at: number
  kept: ReadonlySet<string> | undefined
}

export class MemberDirectory {
  private readonly bySerial = new Map<string, Certificate>()
  /** Each member's certificates, the latest (by notBefore) last. */
  private readonly byName = new Map<string, Certificate[]>()
  /** Revoked serials: when the revocation took effect, and the records it keeps (hex digests). */
  private readonly revoked = new Map<string, RevokedEntry>()
  /** Each membership certificate's issuer, when the issuer is a membership certificate too. */
  private readonly issuerOf = new Map<string, string>()

  /** Adds the membership certificates of a verified chain; true when any was new. */
  learn(chain: readonly Certificate[]): boolean {
    let added = false
    chain.forEach((cert, i) => {
      if (cert.type !== 'membership') return
      const serial = serialOf(cert)
      const issuer = chain[i - 1]
      if (issuer?.type === 'membership') this.issuerOf.set(serial, serialOf(issuer))
      if (this.bySerial.has(serial)) return
      this.bySerial.set(serial, cert)
      const list = this.byName.get(cert.subjectName) ?? []
      list.push(cert)
      list.sort((a, b) => a.notBefore - b.notBefore)
      this.byName.set(cert.subjectName, list)
      added = true
    })
    return added
  }

  get(serialHex: string): Certificate | undefined {
    return this.bySerial.get(serialHex)
  }

  /** A member's latest certificate. */
  latest(peerName: string): Certificate | undefined {
    const list = this.byName.get(peerName)
    return list?.[list.length - 1]
  }

  /** Every certificate known for `peerName`, oldest first. */
  certificatesOf(peerName: string): Certificate[] {
    return [...(this.byName.get(peerName) ?? [])]
  }

  members(): string[] {
    return [...this.byName.keys()]
  }

  /**
   * Records a revocation of `serialHex` from `at`, keeping the records whose digests `kept`
   * lists (undefined: every record signed before `at`). Two revocations of one certificate
   * combine to the stricter: the earlier time, and only the records both keep. True when this
   * changed what is revoked.
   */
  revoke(serialHex: string, at: number, kept?: ReadonlySet<string>): boolean {
    const before = this.revoked.get(serialHex)
    if (before === undefined) {
      this.revoked.set(serialHex, { at, kept })
      return true
    }
    const next: RevokedEntry = {
      at: Math.min(at, before.at),
      kept:
        kept === undefined
          ? before.kept
          : before.kept === undefined
            ? kept
            : new Set([...kept].filter((d) => before.kept!.has(d))),
    }
    if (next.at === before.at && next.kept?.size === before.kept?.size) return false
    this.revoked.set(serialHex, next)
    return true
  }

  /** Forgets every revocation (they are learnt again from the records that stand). */
  clearRevocations(): void {
    this.revoked.clear()
  }

  /** When `cert` was revoked, itself or through a certificate above it, if it was. */
  revokedAt(cert: Certificate): number | undefined {
    let at: number | undefined
    for (const r of this.revocationsOf(cert)) if (at === undefined || r.at < at) at = r.at
    return at
  }

  /**
   * Whether a record `cert` signed at `modifiedAt` stands: always while the certificate is not
   * revoked; once it is, only when every revocation on its chain dates from later and keeps
   * the record (`digestHex` is asked for only then).
   */
  allows(cert: Certificate, modifiedAt: number, digestHex: () => string): boolean {
    let digest: string | undefined
    for (const r of this.revocationsOf(cert)) {
      if (modifiedAt >= r.at) return false
      if (r.kept !== undefined && !r.kept.has((digest ??= digestHex()))) return false
    }
    return true
  }

  /** True when the certificate `serialHex` is `cert` or one above it. */
  isOnChainOf(serialHex: string, cert: Certificate): boolean {
    let serial: string | undefined = serialOf(cert)
    for (let depth = 0; serial !== undefined && depth <= MAX_CHAIN_LENGTH; depth++) {
      if (serial === serialHex) return true
      serial = this.issuerOf.get(serial)
    }
    return false
  }

  /** The members holding `serialHex` or a certificate it (or one below it) issued. */
  subjectsUnder(serialHex: string): string[] {
    return this.membersWith((c) => this.isOnChainOf(serialHex, c))
  }

  /** The members with a certificate that is revoked, itself or through one above it. */
  revokedSubjects(): string[] {
    return this.membersWith((c) => this.revokedAt(c) !== undefined)
  }

  private membersWith(test: (cert: Certificate) => boolean): string[] {
    return [...this.byName].filter(([, certs]) => certs.some(test)).map(([name]) => name)
  }

  /** The revocations of `cert` and of the certificates above it. */
  private *revocationsOf(cert: Certificate): Generator<RevokedEntry> {
    let serial: string | undefined = serialOf(cert)
    for (let depth = 0; serial !== undefined && depth <= MAX_CHAIN_LENGTH; depth++) {
      const r = this.revoked.get(serial)
      if (r !== undefined) yield r
      serial = this.issuerOf.get(serial)
    }
  }

  /** True when a certificate of `chain` (or one above it) is revoked. */
  isChainRevoked(chain: readonly Certificate[]): boolean {
    return chain.some((c) => c.type === 'membership' && this.revokedAt(c) !== undefined)
  }

  /** True when every certificate of `peerName` is revoked (or it has none). */
  isCutOff(peerName: string): boolean {
    const list = this.byName.get(peerName) ?? []
    return list.every((c) => this.revokedAt(c) !== undefined)
  }
}
