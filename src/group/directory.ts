/**
 * The membership certificates a member knows (MS-PPSEC: the Membership records, and the
 * chains peers showed in their handshakes), by serial and by member, and the revoked ones.
 * Only chains that verified for the group enter it.
 */
import type { Certificate } from '../identity/certificate.ts'
import { serialOf } from './credentials.ts'

export class MemberDirectory {
  private readonly bySerial = new Map<string, Certificate>()
  /** Each member's certificates, the latest (by notBefore) last. */
  private readonly byName = new Map<string, Certificate[]>()
  /** Revoked serials, with the time the revocation took effect. */
  private readonly revoked = new Map<string, number>()

  /** Adds the membership certificates of a verified chain; true when any was new. */
  learn(chain: readonly Certificate[]): boolean {
    let added = false
    for (const cert of chain) {
      if (cert.type !== 'membership') continue
      const serial = serialOf(cert)
      if (this.bySerial.has(serial)) continue
      this.bySerial.set(serial, cert)
      const list = this.byName.get(cert.subjectName) ?? []
      list.push(cert)
      list.sort((a, b) => a.notBefore - b.notBefore)
      this.byName.set(cert.subjectName, list)
      added = true
    }
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

  /** When `cert` was revoked, if it was. */
  revokedAt(cert: Certificate): number | undefined {
    return this.revoked.get(serialOf(cert))
  }

  /** True when every certificate of `peerName` is revoked (or it has none). */
  isCutOff(peerName: string): boolean {
    const list = this.byName.get(peerName) ?? []
    return list.every((c) => this.revoked.has(serialOf(c)))
  }
}
