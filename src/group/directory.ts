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

export class MemberDirectory {
  private readonly bySerial = new Map<string, Certificate>()
  /** Each member's certificates, the latest (by notBefore) last. */
  private readonly byName = new Map<string, Certificate[]>()
  /** Revoked serials, with the time the revocation took effect. */
  private readonly revoked = new Map<string, number>()
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

  revoke(serialHex: string, at: number): void {
    const before = this.revoked.get(serialHex)
    if (before === undefined || at < before) this.revoked.set(serialHex, at)
  }

  /** When `cert` was revoked, itself or through a certificate above it, if it was. */
  revokedAt(cert: Certificate): number | undefined {
    let at: number | undefined
    let serial: string | undefined = serialOf(cert)
    for (let depth = 0; serial !== undefined && depth <= MAX_CHAIN_LENGTH; depth++) {
      const r = this.revoked.get(serial)
      if (r !== undefined && (at === undefined || r < at)) at = r
      serial = this.issuerOf.get(serial)
    }
    return at
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
