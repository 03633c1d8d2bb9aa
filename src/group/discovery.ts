/**
 * Finding a group's members through PNRP (MS-PPSEC: listening members register
 * `<groupAuthority>.participant`; joiners resolve it and try each address).
 *
 * MS-PPSEC registers that name secured, its CPA carrying the member's certificate chain. Our
 * CPAs have no delegation, so a member registers the unsecured `0.<groupAuthority>.participant`,
 * signed with its own identity key and carrying its membership chain as the payload. A
 * resolver keeps only registrations whose chain verifies for the group root it holds and whose
 * member key is the key that signed the CPA; anyone may register the name, but only members'
 * registrations are used, and the handshake authenticates every connection anyway.
 */
import { createLogger } from '../core/log.ts'
import type { Certificate } from '../identity/certificate.ts'
import { PeerName } from '../identity/peer-name.ts'
import type { PnrpRecord, PnrpRegistration, PnrpService } from '../pnrp/service.ts'
import { MAX_CPA_PAYLOAD_BYTES } from '../pnrp/constants.ts'
import { PARTICIPANT_CLASSIFIER } from './constants.ts'
import { decodeChain, encodeChain, verifyMembership } from './credentials.ts'

const log = createLogger('group')

/** Members a joiner asks PNRP for at most. */
export const MAX_PARTICIPANTS_RESOLVED = 10
/** How long a resolve of the participant name may take. */
export const PARTICIPANT_RESOLVE_TIMEOUT_MS = 15_000

export interface MemberAddress {
  address: string
  port: number
  peerId: string
}

/** `0.<groupAuthority>.participant`. */
export function participantName(groupPeerName: string): string {
  const authority = PeerName.parse(groupPeerName).authority
  return PeerName.fromParts('0', `${authority}.${PARTICIPANT_CLASSIFIER}`).toString()
}

/** The cloud of the group if this node runs it, else every cloud this node runs. */
function cloudOf(pnrp: PnrpService, cloud: string): string | undefined {
  return pnrp.clouds().some((c) => c.name === cloud) ? cloud : undefined
}

/**
 * Registers this listening member under the participant name; undefined when its chain does
 * not fit a CPA payload (it can still be reached by address).
 */
export async function registerParticipant(
  pnrp: PnrpService,
  p: {
    groupPeerName: string
    cloud: string
    identity: string
    port: number
    chain: readonly Certificate[]
  },
): Promise<PnrpRegistration | undefined> {
  const payload = encodeChain(p.chain)
  if (payload.length > MAX_CPA_PAYLOAD_BYTES) {
    log.warn('membership chain too long for a PNRP payload: not registered', {
      group: p.groupPeerName,
      bytes: payload.length,
    })
    return undefined
  }
  const cloud = cloudOf(pnrp, p.cloud)
  return pnrp.register({
    peerName: participantName(p.groupPeerName),
    ...(cloud ? { cloud } : {}),
    port: p.port,
    payload,
    identity: p.identity,
    comment: 'group member',
  })
}

/** The member a registration stands for, when its chain verifies for the group. */
function memberOf(
  record: PnrpRecord,
  p: { groupPeerName: string; root: Certificate; now: number },
): Certificate | undefined {
  try {
    const chain = decodeChain(record.payload)
    const leaf = verifyMembership(chain, {
      groupKey: p.root.subject,
      groupPeerName: p.groupPeerName,
      now: p.now,
    })
    return leaf.subject.equals(record.publicKey) ? leaf : undefined
  } catch {
    return undefined
  }
}

/** Members PNRP knows in the group's cloud, other than `self`; none when nothing is found. */
export async function findParticipants(
  pnrp: PnrpService,
  p: {
    groupPeerName: string
    cloud: string
    root: Certificate
    self: string
    now: number
    revoked: (chainLeaf: Certificate) => boolean
    signal?: AbortSignal
  },
): Promise<MemberAddress[]> {
  let records: PnrpRecord[]
  const cloud = cloudOf(pnrp, p.cloud)
  try {
    records = await pnrp.resolve(participantName(p.groupPeerName), {
      ...(cloud ? { cloud } : {}),
      max: MAX_PARTICIPANTS_RESOLVED,
      timeoutMs: PARTICIPANT_RESOLVE_TIMEOUT_MS,
      criteria: 'default',
      ...(p.signal ? { signal: p.signal } : {}),
    })
  } catch (err) {
    log.debug('no group member found through PNRP', { error: (err as Error).message })
    return []
  }
  const out: MemberAddress[] = []
  for (const record of records) {
    const member = memberOf(record, p)
    if (!member || member.subjectName === p.self || p.revoked(member)) continue
    for (const e of record.endpoints)
      out.push({ address: e.address, port: e.port, peerId: member.subjectName })
  }
  return out
}
