/**
 * A graph over real TCP on 127.0.0.1 with the real clock: five PeerNodes form a graph (each
 * connects to the one before), records added anywhere flood to all, a late node connects and
 * synchronises everything and listens on every interface (only loopback is dialled), and
 * stopping the nodes leaves no socket or timer behind.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import type { PeerGraph } from '../../src/graph/graph.ts'
import { MAX_NODE_ADDRESSES } from '../../src/graph/constants.ts'
import { PeerNode } from '../../src/node/peer-node.ts'
import { machineAddresses } from '../../src/transport/addresses.ts'
import { until, watchHandles } from '../helpers/handles.ts'

const CHAT = '0cc0c0c0-1111-4222-8333-444455556666'
const HOST = '127.0.0.1'

const handles = watchHandles(['TCPWrap', 'TCPServerWrap', 'Timeout'])

describe('a graph over TCP on 127.0.0.1', () => {
  test('five nodes flood records and a late node syncs', { timeout: 30_000 }, async () => {
    const root = await mkdtemp(join(tmpdir(), 'peerinfra-graph-tcp-'))
    const nodes: PeerNode[] = []
    handles.cleanup(async () => {
      for (const n of nodes) await n.stop()
      await rm(root, { recursive: true, force: true })
    })
    const start = async (name: string): Promise<PeerNode> => {
      const node = await PeerNode.start({ dataDir: join(root, name) })
      await node.identities.create({ classifier: name })
      nodes.push(node)
      return node
    }
    const expires = new Date(Date.now() + 3_600_000)
    const graphs: PeerGraph[] = []
    for (let i = 0; i < 5; i++) {
      const node = await start(`n${i}`)
      const graph =
        i === 0 ? await node.graphs.create({ graphId: 'tcp' }) : await node.graphs.open('tcp')
      if (i > 0) {
        const prev = graphs[i - 1]!
        await graph.connect({ address: HOST, port: prev.localNode.addresses[0]!.port })
        await until(() => graph.status.synchronized, `n${i} to synchronize`, 5000)
      }
      await graph.listen({ host: HOST })
      graphs.push(graph)
    }
    const ids: string[] = []
    for (const [i, g] of graphs.entries()) {
      ids.push(
        await g.addRecord({ type: CHAT, data: Buffer.from(`hello from ${i}`), expiresAt: expires }),
      )
    }
    const all = (g: PeerGraph): boolean => ids.every((id) => g.getRecord(id) !== undefined)
    await until(() => graphs.every(all), 'every record on every node', 10_000)
    assert.equal(Buffer.from(graphs[0]!.getRecord(ids[4]!)!.data).toString(), 'hello from 4')

    // A late node joins through the middle of the line and gets everything in its first sync.
    const late = await (await start('late')).graphs.open('tcp')
    await late.connect({ address: HOST, port: graphs[2]!.localNode.addresses[0]!.port })
    await until(() => late.status.synchronized && all(late), 'the late node to sync', 10_000)
    assert.equal(late.recordCount, 5)
    assert.deepEqual(
      late.connections('neighbor').map((c) => c.peerId),
      [graphs[2]!.peerId],
    )

    // Listening on every interface, it tells the machine's addresses, never 0.0.0.0: in its
    // node info and in the presence its neighbour learns.
    const { port } = await late.listen({ host: '0.0.0.0' })
    const reachable = machineAddresses('ipv4')
      .slice(0, MAX_NODE_ADDRESSES)
      .map((address) => ({ address, port }))
    assert.deepEqual(late.localNode.addresses, reachable)
    const seen = () => graphs[2]!.nodes({ peerId: late.peerId })[0]?.addresses ?? []
    await until(() => seen().length > 0, "the late node's presence at its neighbour", 10_000)
    assert.deepEqual(seen(), reachable)
  })
})
