/**
 * The pieces around the clouds: endpoint parsing and address-derived service locations, the
 * persisted list of recent nodes, and mDNS discovery (on a fake link, so no packet leaves).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { SeededRandom } from '../../src/core/random.ts'
import { RECENT_NODES_KEPT } from '../../src/pnrp/constants.ts'
import {
  formatEndpoint,
  isRoutable,
  nearestLocation,
  parseEndpoint,
  serviceLocationFor,
} from '../../src/pnrp/endpoints.ts'
import { compareCloseness, p2pIdOf, pnrpIdOf } from '../../src/pnrp/ids.ts'
import { MdnsDiscovery, type MdnsBus } from '../../src/pnrp/mdns.ts'
import { RecentNodes } from '../../src/pnrp/recent-nodes.ts'
import type { Address } from '../../src/transport/types.ts'
import { throwsPeerError } from '../helpers/assert-peer-error.ts'

let root: string
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'peerinfra-pnrp-clouds-'))
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

describe('endpoints', () => {
  test('host:port and [v6]:port parse and format back', () => {
    for (const text of ['127.0.0.1:3540', '[::1]:3540', '[fe80::1%eth0]:80', 'n12:3540']) {
      assert.equal(formatEndpoint(parseEndpoint(text)), text)
    }
    assert.deepEqual(parseEndpoint('10.0.0.1', 3540), { address: '10.0.0.1', port: 3540 })
    for (const bad of [
      '',
      '127.0.0.1',
      '127.0.0.1:0',
      '127.0.0.1:65536',
      'a b:1',
      ':80',
      '[::1]',
    ]) {
      throwsPeerError(() => parseEndpoint(bad), 'PEER_E_INVALID_ADDRESS', bad)
    }
  })

  test('service locations of nearby addresses are near; a nearest resolve aims at them', () => {
    const random = new SeededRandom('locations')
    const p2p = p2pIdOf('0.svc')
    const id = (address: string): bigint =>
      pnrpIdOf(p2p, serviceLocationFor({ address, port: 80 }, random))
    const here = id('10.1.2.3')
    const sameNet = id('10.1.2.4')
    const far = id('192.168.7.7')
    const target = pnrpIdOf(p2p, nearestLocation({ address: '10.1.2.3', port: 80 }))
    assert.equal(compareCloseness(target, here, far) < 0, true)
    assert.equal(compareCloseness(target, sameNet, far) < 0, true)
    // Two registrations at one address still get different IDs (random tail).
    assert.notEqual(id('10.1.2.3'), here)
    const v6 = pnrpIdOf(p2p, nearestLocation({ address: '2001:db8:1:2::5', port: 80 }))
    const v6near = id('2001:db8:1:2::9')
    const v6far = id('2001:db8:ffff:2::9')
    assert.equal(compareCloseness(v6, v6near, v6far) < 0, true)
  })
})

describe('recent nodes', () => {
  test('saved on stop, read on start, capped; a broken file is an empty list', async () => {
    const path = join(root, 'recent', 'Global_.json')
    const recent = await RecentNodes.open(path)
    assert.deepEqual(recent.load(), [])
    const many = Array.from({ length: 50 }, (_, i) => ({ address: '10.0.0.1', port: 1000 + i }))
    await recent.save([...many, { address: '', port: 1 }])
    const again = await RecentNodes.open(path)
    assert.equal(again.load().length, RECENT_NODES_KEPT)
    assert.deepEqual(again.load()[0], { address: '10.0.0.1', port: 1000 })
    for (const junk of [
      '{',
      '[]',
      '{"v":1,"nodes":[{"address":5,"port":"x"}]}',
      'x'.repeat(20_000),
    ]) {
      await writeFile(path, junk)
      assert.deepEqual((await RecentNodes.open(path)).load(), [], junk.slice(0, 20))
    }
  })
})

/** A link where every bus hears every other (multicast), delivering asynchronously. */
class FakeLink {
  readonly buses = new Set<FakeBus>()
  bus(): FakeBus {
    const bus = new FakeBus(this)
    this.buses.add(bus)
    return bus
  }
}

class FakeBus implements MdnsBus {
  private readonly handlers = new Map<string, ((packet: never) => void)[]>()
  constructor(private readonly link: FakeLink) {}
  on(event: string, listener: (packet: never) => void): this {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), listener])
    return this
  }
  deliver(event: string, packet: unknown): void {
    for (const h of this.handlers.get(event) ?? []) h(packet as never)
  }
  query(query: unknown): void {
    for (const bus of this.link.buses) if (bus !== this) bus.deliver('query', query)
  }
  respond(response: unknown): void {
    for (const bus of this.link.buses) if (bus !== this) bus.deliver('response', response)
  }
  destroy(cb?: () => void): void {
    this.link.buses.delete(this)
    cb?.()
  }
}

describe('mDNS discovery', () => {
  test('nodes on one link find each other; malformed answers are ignored', async () => {
    const link = new FakeLink()
    const random = new SeededRandom('mdns')
    const a = new MdnsDiscovery(() => link.bus(), random)
    const b = new MdnsDiscovery(() => link.bus(), random)
    const foundByA: Address[] = []
    const foundByB: Address[] = []
    await a.start({ address: '192.168.1.10', port: 40000 }, (p) => foundByA.push(p))
    await b.start({ address: '192.168.1.11', port: 40001 }, (p) => foundByB.push(p))
    b.query()
    a.query()
    assert.deepEqual(foundByB, [{ address: '192.168.1.10', port: 40000 }])
    assert.deepEqual(foundByA, [{ address: '192.168.1.11', port: 40001 }])
    a.query()
    assert.equal(foundByA.length, 1, 'a node is reported once')

    // Garbage on the link: wrong types, missing records, bad ports and addresses.
    const liar = link.bus()
    const svc = '_pnrp._udp.local'
    for (const packet of [
      {},
      { answers: 'x' },
      { answers: [{ name: `x.${svc}`, type: 'SRV', data: { port: 0, target: 'h.local' } }] },
      { answers: [{ name: `x.${svc}`, type: 'SRV', data: { port: 80, target: 'h.local' } }] },
      {
        answers: [
          { name: `x.${svc}`, type: 'SRV', data: { port: 80, target: 'h.local' } },
          { name: 'h.local', type: 'A', data: 'not-an-ip' },
        ],
      },
      { answers: [null, 5, { type: 'SRV' }] },
    ]) {
      liar.respond(packet)
    }
    assert.equal(foundByA.length, 1)
    assert.ok(a.ignored >= 5, `ignored ${a.ignored}`)
    await a.stop()
    await b.stop()
    assert.equal(link.buses.size, 1)
  })
})

describe('routable endpoints', () => {
  test('route entries naming well-known ports or non-unicast addresses are not contacted', () => {
    for (const ok of ['10.0.0.1:3540', '[2001:db8::1]:40000', 'n12:3540', '127.0.0.1:1025']) {
      assert.equal(isRoutable(parseEndpoint(ok)), true, ok)
    }
    for (const bad of [
      '10.0.0.1:53',
      '10.0.0.1:1024',
      '0.0.0.0:3540',
      '255.255.255.255:3540',
      '224.0.0.251:5353',
      '239.1.2.3:3540',
      '[ff02::1]:3540',
      '[::]:3540',
    ]) {
      assert.equal(isRoutable(parseEndpoint(bad)), false, bad)
    }
  })
})
