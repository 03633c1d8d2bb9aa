/** Group credentials built by hand (no PeerNode): a group root and members it issues. */
import type { SeededRandom } from '../../src/core/random.ts'
import { issueMembership, type GroupRoot } from '../../src/group/credentials.ts'
import type { Certificate } from '../../src/identity/certificate.ts'
import { KeyPair } from '../../src/identity/keys.ts'
import { PeerName } from '../../src/identity/peer-name.ts'

/** A key and its membership chain, root first (the group key holds just the GRC). */
export interface Issuer {
  key: KeyPair
  chain: Certificate[]
}

/** A member: its key, peer name and chain (root first). */
export interface GroupMember extends Issuer {
  name: string
}

/** The group key as an issuer, holding just the group root certificate. */
export function rootIssuer(root: GroupRoot): Issuer {
  return { key: root.key, chain: [root.certificate] }
}

/** `<authority of the key>.<classifier>` */
export function peerNameOf(key: KeyPair, classifier: string): string {
  return PeerName.fromParts(key.publicKey.authority, classifier).toString()
}

export interface MemberParams {
  /** The classifier of the member's peer name. */
  classifier: string
  roles: string[]
  notBefore: number
  notAfter: number
  /** The member's key; a new one, drawn from `random` before the certificate, when left out. */
  subject?: KeyPair
}

/** A member `issuer` issues with issueMembership (so under its role and lifetime rules). */
export function issueMember(issuer: Issuer, random: SeededRandom, p: MemberParams): GroupMember {
  const key = p.subject ?? KeyPair.generate(random)
  const name = peerNameOf(key, p.classifier)
  const chain = issueMembership({
    issuer: issuer.key,
    issuerChain: issuer.chain,
    subjectKey: key.publicKey,
    subjectName: name,
    roles: p.roles,
    notBefore: p.notBefore,
    notAfter: p.notAfter,
    random,
  })
  return { key, name, chain }
}
