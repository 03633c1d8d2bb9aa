/**
 * Link-local bootstrap by mDNS (DESIGN.md section 3: mDNS in place of MS-PNRP's SSDP). Each
 * link-local cloud announces `<instance>._pnrp._udp.local` with an SRV record (its PNRP port)
 * and an A record (its address on that link), and asks the link for the same service. Answers
 * are only bootstrap candidates: PNRP itself checks every node it admits, so a lying answer
 * costs one unanswered SOLICIT. Everything received is checked and bounded (MAX_MDNS_PEERS).
 */
import net from 'node:net'
import { networkInterfaces } from 'node:os'
import type { Answer } from 'dns-packet'
import createMdns from 'multicast-dns'
import { toHex } from '../core/bytes.ts'
import { createLogger } from '../core/log.ts'
import type { Random } from '../core/random.ts'
import type { Address } from '../transport/types.ts'
import type { LinkDiscovery } from './cloud.ts'
import { MAX_MDNS_PEERS, MDNS_SERVICE } from './constants.ts'
import type { LinkInterface } from './service.ts'

const log = createLogger('pnrp')

/** The records of one mDNS packet, as far as discovery reads them. */
interface MdnsRecord {
  name: string
  type: string
  data?: unknown
}

/** The part of a multicast-dns instance discovery uses (a fake one in tests). */
export interface MdnsBus {
  on(
    event: 'query',
    listener: (packet: { questions?: { name: string; type: string }[] }) => void,
  ): unknown
  on(
    event: 'response',
    listener: (packet: { answers?: MdnsRecord[]; additionals?: MdnsRecord[] }) => void,
  ): unknown
  on(event: 'error' | 'warning', listener: (err: Error) => void): unknown
  query(query: { questions: { name: string; type: 'PTR' }[] }): void
  respond(response: { answers: Answer[]; additionals?: Answer[] }): void
  destroy(cb?: () => void): void
}

/** Interfaces with an IPv4 address that is not loopback: one link-local cloud each. */
export function linkInterfaces(): LinkInterface[] {
  const links: LinkInterface[] = []
  let index = 0
  for (const [name, list] of Object.entries(networkInterfaces())) {
    index++
    const v4 = list?.find((i) => i.family === 'IPv4' && !i.internal)
    if (!v4) continue
    const v6 = list?.find((i) => i.family === 'IPv6' && i.scopeid)
    links.push({ name, address: v4.address, scopeId: v6?.scopeid ?? index })
  }
  return links
}

/** Discovery on `link` with a real mDNS socket (UDP 5353, multicast on that interface). */
export function mdnsDiscovery(link: LinkInterface, random: Random): LinkDiscovery {
  return new MdnsDiscovery(
    () => createMdns({ interface: link.address, bind: '0.0.0.0', loopback: true, reuseAddr: true }),
    random,
  )
}

export class MdnsDiscovery implements LinkDiscovery {
  private readonly open: () => MdnsBus
  private bus: MdnsBus | undefined
  private readonly instance: string
  private readonly found = new Set<string>()
  /** Packets that were not an answer we could use (malformed or off-topic), for diagnostics. */
  ignored = 0

  constructor(open: () => MdnsBus, random: Random) {
    this.open = open
    this.instance = `${toHex(random.bytes(6))}.${MDNS_SERVICE}`
  }

  start(self: Address, onPeer: (peer: Address) => void): Promise<void> {
    const bus = this.open()
    this.bus = bus
    const host = `${this.instance.split('.')[0]}.local`
    bus.on('error', (err) => log.debug('mDNS error', { error: String(err) }))
    bus.on('warning', (err) => log.debug('mDNS warning', { error: String(err) }))
    bus.on('query', (packet) => {
      const asked = Array.isArray(packet.questions)
        ? packet.questions.some(
            (q) => q?.name === MDNS_SERVICE && (q.type === 'PTR' || q.type === 'ANY'),
          )
        : false
      if (!asked) return
      bus.respond({
        answers: [{ name: MDNS_SERVICE, type: 'PTR', ttl: 120, data: this.instance }],
        additionals: [
          { name: this.instance, type: 'SRV', ttl: 120, data: { port: self.port, target: host } },
          { name: host, type: 'A', ttl: 120, data: self.address },
        ],
      })
    })
    bus.on('response', (packet) => {
      const peer = this.peerOf(packet)
      if (!peer) return
      const key = `${peer.address}|${peer.port}`
      if (this.found.has(key) || this.found.size >= MAX_MDNS_PEERS) return
      this.found.add(key)
      onPeer(peer)
    })
    return Promise.resolve()
  }

  query(): void {
    this.bus?.query({ questions: [{ name: MDNS_SERVICE, type: 'PTR' }] })
  }

  async stop(): Promise<void> {
    const bus = this.bus
    this.bus = undefined
    if (bus) await new Promise<void>((resolve) => bus.destroy(() => resolve()))
  }

  /** The PNRP node a response announces: its SRV port and A address; undefined if none. */
  private peerOf(packet: {
    answers?: MdnsRecord[]
    additionals?: MdnsRecord[]
  }): Address | undefined {
    const records = [
      ...(Array.isArray(packet.answers) ? packet.answers : []),
      ...(Array.isArray(packet.additionals) ? packet.additionals : []),
    ].slice(0, 2 * MAX_MDNS_PEERS)
    const srv = records.find(
      (r) => r?.type === 'SRV' && typeof r.name === 'string' && r.name.endsWith(`.${MDNS_SERVICE}`),
    )
    if (!srv || srv.name === this.instance) {
      if (srv === undefined) this.ignored++
      return undefined
    }
    const data = srv.data as { port?: unknown; target?: unknown } | undefined
    const port = data?.port
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535) {
      this.ignored++
      return undefined
    }
    const a = records.find((r) => r?.type === 'A' && r.name === data?.target)
    const address = a?.data
    if (typeof address !== 'string' || !net.isIPv4(address)) {
      this.ignored++
      return undefined
    }
    return { address, port }
  }
}
