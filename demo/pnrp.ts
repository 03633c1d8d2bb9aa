/**
 * Demo: PNRP on real UDP sockets on 127.0.0.1. A seed and four more nodes form a cloud; names
 * (secured and unsecured) are registered and resolved from other nodes, a payload is updated,
 * and an unregistered name stops resolving.
 */
import { join } from 'node:path'
import { isPeerError } from '../src/core/errors.ts'
import { PeerNode } from '../src/node/peer-node.ts'
import { formatEndpoint } from '../src/pnrp/endpoints.ts'
import type { PnrpRecord } from '../src/pnrp/service.ts'
import type { DemoContext } from './index.ts'

const NODES = 5

function describe(records: PnrpRecord[]): string {
  return records
    .map((r) => {
      const payload = new TextDecoder().decode(r.payload)
      return `${r.endpoints.map(formatEndpoint).join(', ')}${payload ? ` payload "${payload}"` : ''}`
    })
    .join('; ')
}

export async function pnrpDemo(demo: DemoContext): Promise<void> {
  demo.step('PNRP: five nodes on 127.0.0.1 form a cloud with no server')
  const nodes: PeerNode[] = []
  try {
    for (let i = 0; i < NODES; i++) {
      const seeds = i === 0 ? [] : nodes[0]?.pnrp.endpoints().map(formatEndpoint)
      const node = await PeerNode.start({
        dataDir: join(demo.root, 'pnrp', `node${i}`),
        pnrp: { host: '127.0.0.1', port: 0, seeds },
      })
      nodes.push(node)
      const cloud = node.pnrp.clouds()[0]
      const at = node.pnrp.endpoints().map(formatEndpoint).join(', ')
      demo.say(`node ${i}`, `${at}  ${cloud?.name} ${cloud?.state}`)
    }
    const [, alice, bob, carol, dave] = nodes as [PeerNode, PeerNode, PeerNode, PeerNode, PeerNode]

    demo.step('PNRP: register a secured name and an unsecured one, resolve them elsewhere')
    const identity = await alice.identities.create({ classifier: 'alice' })
    const secured = `${identity.key.authority}.chat`
    const chat = await alice.pnrp.register({
      peerName: secured,
      port: 7000,
      payload: new TextEncoder().encode('hello from alice'),
    })
    demo.say('alice registered', secured)
    const printer = await bob.pnrp.register({ peerName: '0.printer', addresses: ['127.0.0.1:631'] })
    demo.say('bob registered', '0.printer (unsecured: anyone may register it)')
    demo.say('carol resolves', describe(await carol.pnrp.resolve(secured)))
    demo.say('dave resolves', describe(await dave.pnrp.resolve('0.printer')))
    try {
      await dave.pnrp.register({ peerName: `${identity.key.authority}.chat`, port: 1 })
    } catch (err) {
      demo.say('dave claims it', `refused ${isPeerError(err) ? err.code : String(err)}`)
    }

    demo.step('PNRP: update a payload, unregister a name')
    await chat.update({ payload: new TextEncoder().encode('alice, updated') })
    demo.say('after update', describe(await dave.pnrp.resolve(secured)))
    await printer.unregister()
    try {
      await carol.pnrp.resolve('0.printer', { timeoutMs: 10_000 })
      demo.say('after unregister', 'still resolves (unexpected)')
    } catch (err) {
      demo.say('after unregister', `not found: ${isPeerError(err) ? err.code : String(err)}`)
    }
  } finally {
    for (const node of nodes) await node.stop()
  }
}
