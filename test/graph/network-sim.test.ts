/**
 * Graphs of PeerNodes on the simulator's in-memory network: connecting (CONNECT/WELCOME/REFUSE),
 * the first full sync of a new node, flooding of adds, updates and deletes, properties that
 * flood, peer time, application data, and the errors of connect.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { CONNECT_TIMEOUT_MS } from '../../src/graph/constants.ts'
import type { PeerGraph } from '../../src/graph/graph.ts'
import { graphContext } from '../../src/graph/network.ts'
import { Identity } from '../../src/identity/identity.ts'
import type { GraphEvents } from '../../src/graph/events.ts'
import type { GraphSecurityProvider } from '../../src/graph/security.ts'
import type { PeerNode } from '../../src/node/peer-node.ts'
import { createSim, type Sim } from '../../src/sim/index.ts'
import { ConnectionManager } from '../../src/transport/connections.ts'
import { SessionCredentials } from '../../src/transport/secure-session.ts'
import { rejectsPeerError, throwsPeerError } from '../helpers/assert-peer-error.ts'
import { drive } from '../helpers/sim.ts'
import { startSimPeer } from '../helpers/sim-peer.ts'
import { tempRoot } from '../helpers/temp-root.ts'

const CHAT = '0cc0c0c0-1111-4222-8333-444455556666'
const MINUTE = 60_000

const root = tempRoot('peerinfra-graph-net-')

interface Peer {
  name: string
  node: PeerNode
  peerId: string
}

async function peer(sim: Sim, name: string): Promise<Peer> {
  const { node, peerName } = await startSimPeer(sim, name, {
    dataDir: join(root.path, sim.name, name),
    random: `peer/${name}`,
  })
  return { name, node, peerId: peerName }
}

function collect<K extends keyof GraphEvents>(graph: PeerGraph, type: K): GraphEvents[K][] {
  const seen: GraphEvents[K][] = []
  graph.on(type, (e) => seen.push(e))
  return seen
}

function later(sim: Sim, minutes: number): Date {
  return new Date(sim.clock.now() + minutes * MINUTE)
}

const text = (b: Uint8Array | undefined): string | undefined => b && Buffer.from(b).toString()

describe('two nodes', () => {
  test('a new node connects, syncs everything, then records flood both ways', async () => {
    const sim = createSim('graph-two', 'graph-two')
    const a = await peer(sim, 'a')
    const b = await peer(sim, 'b')
    const ga = await drive(sim, a.node.graphs.create({ graphId: 'chat', friendlyName: 'Chat' }))
    const first = await drive(
      sim,
      ga.addRecord({ type: CHAT, data: Buffer.from('first'), expiresAt: later(sim, 60) }),
    )
    const { port } = await drive(sim, ga.listen())

    const gb = await drive(sim, b.node.graphs.open('chat'))
    assert.equal(gb.dataCreated, true)
    const statuses = collect(gb, 'status-changed')
    const neighbours = collect(ga, 'neighbor-connection')
    const connectionId = await drive(sim, gb.connect({ address: 'a', port, peerId: a.peerId }))
    assert.match(connectionId, /^[0-9a-f]{16}$/)
    await sim.run(1000)
    assert.equal(gb.status.synchronized, true, 'the full sync made the new node ready')
    assert.ok(statuses.some((s) => s.status.synchronized))
    assert.equal(gb.properties.friendlyName, 'Chat', 'the Graph Info record came first')
    assert.equal(text(gb.getRecord(first)?.data), 'first')
    assert.deepEqual(
      neighbours.map((n) => [n.status, n.peerId]),
      [['connected', b.peerId]],
    )
    assert.deepEqual(
      gb.connections('neighbor').map((c) => c.peerId),
      [a.peerId],
    )
    assert.equal(ga.status.hasConnections, true)
    assert.equal(gb.status.hasConnections, true)

    // Flooding: an add on either side reaches the other; updates and deletes too.
    const changesOnA = collect(ga, 'record-changed')
    const fromB = await drive(
      sim,
      gb.addRecord({ type: CHAT, data: Buffer.from('from b'), expiresAt: later(sim, 60) }),
    )
    await sim.run(1000)
    assert.equal(text(ga.getRecord(fromB)?.data), 'from b')
    await drive(sim, ga.updateRecord(fromB, { data: Buffer.from('edited by a') }))
    await sim.run(1000)
    assert.equal(text(gb.getRecord(fromB)?.data), 'edited by a')
    assert.equal(gb.getRecord(fromB)?.version, 2)
    await drive(sim, gb.deleteRecord(first))
    await sim.run(1000)
    assert.equal(ga.getRecord(first), undefined)
    assert.deepEqual(
      changesOnA.map((c) => [c.change, c.recordId]),
      [
        ['added', fromB],
        ['updated', fromB],
        ['deleted', first],
      ],
    )

    // Properties flood as the Graph Info record.
    const propsOnB = collect(gb, 'property-changed')
    await drive(sim, ga.setProperties({ comment: 'new comment' }))
    await sim.run(1000)
    assert.equal(gb.properties.comment, 'new comment')
    assert.equal(propsOnB.length, 1)

    await drive(sim, a.node.stop())
    await drive(sim, b.node.stop())
  })

  test('connect errors: not ready, wrong peer, nothing there, already a neighbour', async () => {
    const sim = createSim('graph-errors', 'graph-errors')
    const a = await peer(sim, 'a')
    const b = await peer(sim, 'b')
    const ga = await drive(sim, a.node.graphs.create({ graphId: 'g' }))
    const { port } = await drive(sim, ga.listen())
    await rejectsPeerError(drive(sim, ga.listen()), 'PEER_E_ALREADY_LISTENING')
    // windows-api.md: scopeId 0 (all interfaces) is refused for link- and site-local scopes.
    await rejectsPeerError(drive(sim, ga.listen({ scope: 'link-local' })), 'E_INVALIDARG')
    await rejectsPeerError(
      drive(sim, ga.listen({ scope: 'site-local', scopeId: 0 })),
      'E_INVALIDARG',
    )
    await rejectsPeerError(drive(sim, ga.listen({ port: 70_000 })), 'E_INVALIDARG')
    const fresh = await drive(sim, b.node.graphs.open('g'))
    await rejectsPeerError(drive(sim, fresh.listen()), 'PEER_E_GRAPH_NOT_READY')
    await rejectsPeerError(
      drive(sim, fresh.connect({ address: 'a', port, peerId: 'someone.else' })),
      'PEER_E_CONNECTION_NOT_AUTHENTICATED',
    )
    await rejectsPeerError(
      drive(sim, fresh.connect({ address: 'a', port: port + 1 })),
      'PEER_E_CONNECTION_REFUSED',
    )
    await rejectsPeerError(
      drive(sim, fresh.connect({ address: 'a', port, peerId: b.peerId })),
      'PEER_E_CONNECT_SELF',
    )
    await drive(sim, fresh.connect({ address: 'a', port }))
    await rejectsPeerError(
      drive(sim, fresh.connect({ address: 'a', port })),
      'PEER_E_ALREADY_EXISTS',
    )
    await rejectsPeerError(
      drive(sim, fresh.sendData('0000000000000000', CHAT, new Uint8Array())),
      'PEER_E_CONNECTION_NOT_FOUND',
    )
    await drive(sim, a.node.stop())
    await drive(sim, b.node.stop())
  })

  test('connect gives up on a node that never answers: after 60 s, or at once when aborted', async () => {
    const sim = createSim('graph-silent', 'graph-silent')
    const b = await peer(sim, 'b')
    // m completes the secure handshake for graph g but never answers the CONNECT.
    sim.network.addNode('m')
    const silent = new ConnectionManager({
      credentials: new SessionCredentials(
        Identity.create({ classifier: 'm', random: sim.random.fork('m'), now: sim.clock.now() }),
        sim.random.fork('m/session'),
      ),
      context: graphContext('g'),
      streams: sim.node('m').streams,
      clock: sim.clock,
      random: sim.random.fork('m/cm'),
    })
    silent.on('connected', (connection) =>
      connection.mux.on('channel', (channel) => channel.on('message', () => {})),
    )
    const { port } = await drive(sim, silent.listen())
    const fresh = await drive(sim, b.node.graphs.open('g'))

    const controller = new AbortController()
    sim.clock.setTimeout(() => controller.abort(), 5_000)
    let started = sim.clock.now()
    await rejectsPeerError(
      drive(sim, fresh.connect({ address: 'm', port, signal: controller.signal })),
      'E_ABORT',
    )
    const aborted = sim.clock.now() - started
    assert.ok(aborted >= 5_000 && aborted < 6_000, `gave up after ${aborted} ms`)

    started = sim.clock.now()
    await rejectsPeerError(drive(sim, fresh.connect({ address: 'm', port })), 'PEER_E_TIMEOUT')
    const waited = sim.clock.now() - started
    assert.ok(waited >= CONNECT_TIMEOUT_MS && waited < CONNECT_TIMEOUT_MS + 1_000, `${waited} ms`)
    assert.equal(fresh.status.hasConnections, false)
    await drive(sim, silent.stop())
    await drive(sim, b.node.stop())
  })

  test('application data travels on a neighbour connection (incoming-data)', async () => {
    const sim = createSim('graph-data', 'graph-data')
    const a = await peer(sim, 'a')
    const b = await peer(sim, 'b')
    const ga = await drive(sim, a.node.graphs.create({ graphId: 'g' }))
    const { port } = await drive(sim, ga.listen())
    const gb = await drive(sim, b.node.graphs.open('g'))
    const received = collect(ga, 'incoming-data')
    const id = await drive(sim, gb.connect({ address: 'a', port }))
    await drive(sim, gb.sendData(id, CHAT, Buffer.from('ping')))
    await sim.run(500)
    assert.equal(received.length, 1)
    assert.equal(received[0]!.dataType, CHAT)
    assert.equal(text(received[0]!.data), 'ping')
    assert.equal(received[0]!.connectionId, ga.connections('neighbor')[0]!.connectionId)
    await drive(sim, a.node.stop())
    await drive(sim, b.node.stop())
  })
})

describe('connection authentication by the security provider', () => {
  test('only peers whose handshake payload the provider accepts connect, both ways', async () => {
    const sim = createSim('graph-auth', 'graph-auth')
    const failures: string[] = []
    const provider = (pass: string): GraphSecurityProvider => ({
      name: 'club',
      secureRecord: () => new Uint8Array(),
      validateRecord: () => 'accept',
      connectionPayload: () => Buffer.from(pass),
      authenticateConnection: (remote) => Buffer.from(remote.payload).toString() === 'sesame',
      authenticationFailed: (remote, reason) => failures.push(`${remote.peerId}: ${reason}`),
    })
    const a = await peer(sim, 'a')
    const b = await peer(sim, 'b')
    const c = await peer(sim, 'c')
    const ga = await drive(
      sim,
      a.node.graphs.create({ graphId: 'club', security: provider('sesame') }),
    )
    await drive(sim, ga.listen({ port: 3587 }))
    const gb = await drive(sim, b.node.graphs.open('club', { security: provider('sesame') }))
    await drive(sim, gb.connect({ address: 'a', port: 3587 }))
    await sim.runUntil(() => gb.status.synchronized, { maxMs: MINUTE, what: 'sync' })
    // c says the wrong word: a refuses it, and c's connect fails.
    const gc = await drive(sim, c.node.graphs.open('club', { security: provider('please') }))
    const err = await drive(sim, gc.connect({ address: 'a', port: 3587 })).catch((e: unknown) => e)
    // The responder refuses at the end of the handshake and closes: the initiator sees the
    // connection fail (its own provider would answer NOT_AUTHENTICATED for the other side).
    assert.equal((err as { code?: string }).code, 'PEER_E_CONNECTION_FAILED')
    assert.equal(gc.status.synchronized, false)
    assert.ok(
      failures.some((f) => f.startsWith(c.peerId)),
      failures.join('; '),
    )
    assert.deepEqual(
      ga.connections().map((x) => x.peerId),
      [b.peerId],
    )
    for (const p of [a, b, c]) await drive(sim, p.node.stop())
  })
})

describe('large records', () => {
  test('a 2.5 MB record is announced, pulled in chunks, and synced in chunks to a late node', async () => {
    const sim = createSim('graph-large', 'graph-large')
    const a = await peer(sim, 'a')
    const b = await peer(sim, 'b')
    const c = await peer(sim, 'c')
    const ga = await drive(sim, a.node.graphs.create({ graphId: 'big' }))
    await drive(sim, ga.listen({ port: 3587 }))
    const gb = await drive(sim, b.node.graphs.open('big'))
    await drive(sim, gb.connect({ address: 'a', port: 3587 }))
    await sim.runUntil(() => gb.status.synchronized, { maxMs: MINUTE, what: 'sync' })
    const big = Buffer.alloc(2_500_000)
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 0xff
    const id = await drive(sim, ga.addRecord({ type: CHAT, data: big, expiresAt: later(sim, 60) }))
    await sim.run(5000)
    assert.ok(Buffer.from(gb.getRecord(id)!.data).equals(big), 'b pulled it whole')
    const gc = await drive(sim, c.node.graphs.open('big'))
    await drive(sim, gc.connect({ address: 'a', port: 3587 }))
    await sim.runUntil(() => gc.status.synchronized, { maxMs: MINUTE, what: 'sync' })
    assert.ok(Buffer.from(gc.getRecord(id)!.data).equals(big), 'c synced it whole')
    assert.equal(gb.counters!.malformed + gc.counters!.malformed, 0)
    for (const p of [a, b, c]) await drive(sim, p.node.stop())
  })
})

describe('presence and nodes', () => {
  async function line(sim: Sim, n: number, props: { presenceMax?: number } = {}) {
    const peers: Peer[] = []
    const graphs: PeerGraph[] = []
    for (let i = 0; i < n; i++) {
      const p = await peer(sim, `n${i}`)
      const g =
        i === 0
          ? await drive(sim, p.node.graphs.create({ graphId: 'p', ...props }))
          : await drive(sim, p.node.graphs.open('p'))
      if (i > 0) {
        await drive(sim, g.connect({ address: `n${i - 1}`, port: 3587 }))
        await sim.runUntil(() => g.status.synchronized, { maxMs: MINUTE, what: 'sync' })
      }
      await drive(sim, g.listen({ port: 3587 }))
      await sim.run(1000)
      peers.push(p)
      graphs.push(g)
    }
    return { peers, graphs }
  }

  test('presenceMax -1: every listening node is listed, with its attributes', async () => {
    const sim = createSim('graph-presence', 'graph-presence')
    const { peers, graphs } = await line(sim, 3)
    const changes = collect(graphs[0]!, 'node-changed')
    await drive(sim, graphs[2]!.setNodeAttributes('hello'))
    await sim.run(2000)
    for (const g of graphs) {
      const nodes = g.nodes()
      assert.deepEqual(nodes.map((n) => n.nodeId).sort(), graphs.map((x) => x.nodeId).sort())
      const third = nodes.find((n) => n.nodeId === graphs[2]!.nodeId)!
      assert.equal(third.attributes, 'hello')
      assert.equal(third.peerId, peers[2]!.peerId)
      assert.deepEqual(third.addresses, [{ address: 'n2', port: 3587 }])
    }
    assert.deepEqual(g0Filter(graphs[0]!, peers[1]!.peerId), [graphs[1]!.nodeId])
    // GetNodeInfo by node id, in any case of hex digits.
    const info = graphs[0]!.getNodeInfo(graphs[2]!.nodeId.toUpperCase())
    assert.deepEqual([info.peerId, info.attributes], [peers[2]!.peerId, 'hello'])
    throwsPeerError(() => graphs[0]!.getNodeInfo('0000000000000000'), 'PEER_E_NOT_FOUND')
    throwsPeerError(() => graphs[0]!.getNodeInfo('xyz'), 'E_INVALIDARG')
    assert.deepEqual(changes, [
      { change: 'updated', nodeId: graphs[2]!.nodeId, peerId: peers[2]!.peerId },
    ])
    // A node that leaves stops being listed once its presence expires (presenceLifetime).
    await drive(sim, graphs[2]!.close())
    await sim.run(6 * MINUTE)
    assert.equal(graphs[0]!.nodes().length, 2)
    // Nothing in between: AUTOREFRESH of the other presences changes nothing to tell.
    assert.deepEqual(
      changes.map((c) => c.change),
      ['updated', 'disconnected'],
    )
    assert.deepEqual(changes.at(-1), {
      change: 'disconnected',
      nodeId: graphs[2]!.nodeId,
      peerId: peers[2]!.peerId,
    })
    // While the node is up, AUTOREFRESH keeps its presence alive.
    assert.ok(graphs[1]!.nodes().some((n) => n.nodeId === graphs[0]!.nodeId))
    for (const p of peers) await drive(sim, p.node.stop())
  })

  test('presenceMax 0: PEER_E_PRESENCE_DISABLED until a node forces its presence', async () => {
    const sim = createSim('graph-presence-0', 'graph-presence-0')
    const { peers, graphs } = await line(sim, 2, { presenceMax: 0 })
    throwsPeerError(() => graphs[1]!.nodes(), 'PEER_E_PRESENCE_DISABLED')
    await drive(sim, graphs[0]!.setPresence(true))
    await sim.run(1000)
    assert.deepEqual(
      graphs[1]!.nodes().map((n) => n.nodeId),
      [graphs[0]!.nodeId],
    )
    for (const p of peers) await drive(sim, p.node.stop())
  })

  test('presenceMax N: nodes balance towards N published presences', async () => {
    const sim = createSim('graph-presence-n', 'graph-presence-n')
    const { peers, graphs } = await line(sim, 5, { presenceMax: 2 })
    await sim.run(10 * MINUTE)
    for (const g of graphs) assert.equal(g.nodes().length, 2, `${g.peerId} sees 2 presences`)
    for (const p of peers) await drive(sim, p.node.stop())
  })
})

function g0Filter(g: PeerGraph, peerId: string): string[] {
  return g.nodes({ peerId }).map((n) => n.nodeId)
}

describe('a returning node', () => {
  test('syncs by time, then reconciles what the time-based sync cannot see, both ways', async () => {
    const sim = createSim('graph-return', 'graph-return')
    const a = await peer(sim, 'a')
    const b = await peer(sim, 'b')
    const ga = await drive(sim, a.node.graphs.create({ graphId: 'g' }))
    const { port } = await drive(sim, ga.listen())
    const old = await drive(
      sim,
      ga.addRecord({ type: CHAT, data: Buffer.from('old'), expiresAt: later(sim, 600) }),
    )
    const many: string[] = []
    for (let i = 0; i < 300; i++) {
      many.push(
        await drive(
          sim,
          ga.addRecord({ type: CHAT, data: Buffer.from(`bulk ${i}`), expiresAt: later(sim, 600) }),
        ),
      )
    }
    let gb = await drive(sim, b.node.graphs.open('g'))
    await drive(sim, gb.connect({ address: 'a', port }))
    await sim.run(2000)
    assert.equal(gb.recordCount, 301)
    // b drops one old record locally, then leaves for an hour.
    await drive(sim, gb.deleteRecord(old, { local: true }))
    await drive(sim, gb.close())
    await sim.run(60 * MINUTE)
    const whileAway = await drive(
      sim,
      ga.addRecord({ type: CHAT, data: Buffer.from('while away'), expiresAt: later(sim, 600) }),
    )
    // b comes back with a record of its own made offline.
    gb = await drive(sim, b.node.graphs.open('g'))
    assert.equal(gb.status.synchronized, true, 'an existing database is ready at once')
    const offline = await drive(
      sim,
      gb.addRecord({ type: CHAT, data: Buffer.from('offline'), expiresAt: later(sim, 600) }),
    )
    const floodsBefore = ga.counters!.floodsIn
    await drive(sim, gb.connect({ address: 'a', port }))
    await sim.run(2000)
    assert.equal(text(gb.getRecord(whileAway)?.data), 'while away', 'time-based sync')
    assert.equal(text(gb.getRecord(old)?.data), 'old', 'reconciliation: modified before b left')
    assert.equal(text(ga.getRecord(offline)?.data), 'offline', 'reconciliation: b to a')
    assert.equal(ga.recordCount, gb.recordCount)
    // Only the differences crossed: a received b's one record (plus b's acks), not 300.
    assert.ok(
      ga.counters!.floodsIn - floodsBefore <= 2,
      `a received ${ga.counters!.floodsIn - floodsBefore}`,
    )
    await drive(sim, a.node.stop())
    await drive(sim, b.node.stop())
  })
})

describe('direct connections', () => {
  test('open, both sides told, typed data, close; errors for self and unknown ids', async () => {
    const sim = createSim('graph-direct', 'graph-direct')
    const a = await peer(sim, 'a')
    const b = await peer(sim, 'b')
    const ga = await drive(sim, a.node.graphs.create({ graphId: 'd' }))
    await drive(sim, ga.listen({ port: 3587 }))
    const gb = await drive(sim, b.node.graphs.open('d'))
    await drive(sim, gb.connect({ address: 'a', port: 3587 }))
    await sim.runUntil(() => gb.status.synchronized, { maxMs: MINUTE, what: 'sync' })
    const onA = collect(ga, 'direct-connection')
    const onB = collect(gb, 'direct-connection')
    const dataOnA = collect(ga, 'incoming-data')
    await rejectsPeerError(
      drive(sim, gb.openDirectConnection(b.peerId, { address: 'a', port: 3587 })),
      'PEER_E_CONNECT_SELF',
    )
    const id = await drive(sim, gb.openDirectConnection(a.peerId, { address: 'a', port: 3587 }))
    await sim.run(500)
    assert.deepEqual(
      onB.map((e) => [e.status, e.connectionId, e.peerId]),
      [['connected', id, a.peerId]],
    )
    assert.deepEqual(
      onA.map((e) => [e.status, e.peerId, e.nodeId]),
      [['connected', b.peerId, gb.nodeId]],
    )
    const idOnA = onA[0]!.connectionId
    assert.deepEqual(
      ga.connections('direct').map((c) => c.connectionId),
      [idOnA],
    )
    assert.equal(gb.connections('neighbor').length, 1, 'the neighbour link stays beside it')
    await drive(sim, gb.sendData(id, CHAT, Buffer.from('whisper')))
    await sim.run(500)
    assert.deepEqual(
      dataOnA.map((e) => [e.connectionId, e.dataType, text(e.data)]),
      [[idOnA, CHAT, 'whisper']],
    )
    await drive(sim, gb.closeDirectConnection(id))
    await sim.run(500)
    assert.equal(onA.at(-1)!.status, 'disconnected')
    assert.equal(onB.at(-1)!.status, 'disconnected')
    assert.deepEqual(gb.connections('direct'), [])
    await rejectsPeerError(drive(sim, gb.closeDirectConnection(id)), 'PEER_E_CONNECTION_NOT_FOUND')
    await rejectsPeerError(
      drive(sim, gb.sendData(id, CHAT, new Uint8Array(1))),
      'PEER_E_CONNECTION_NOT_FOUND',
    )
    for (const p of [a, b]) await drive(sim, p.node.stop())
  })
})

describe('a chain of nodes', () => {
  test('records flood along a line of five nodes, and a node closing leaves the others connected', async () => {
    const sim = createSim('graph-line', 'graph-line')
    const peers: Peer[] = []
    const graphs: PeerGraph[] = []
    for (let i = 0; i < 5; i++) {
      const p = await peer(sim, `n${i}`)
      peers.push(p)
      const g =
        i === 0
          ? await drive(sim, p.node.graphs.create({ graphId: 'line' }))
          : await drive(sim, p.node.graphs.open('line'))
      if (i > 0) {
        const prev = graphs[i - 1]!
        await drive(
          sim,
          g.connect({ address: `n${i - 1}`, port: prev.localNode.addresses[0]!.port }),
        )
        await sim.run(1000)
      }
      if (i < 4) await drive(sim, g.listen())
      graphs.push(g)
    }
    const usefulBefore = graphs.map((g) => g.counters?.useful ?? 0)
    const ids: string[] = []
    for (const [i, g] of graphs.entries()) {
      ids.push(
        await drive(
          sim,
          g.addRecord({ type: CHAT, data: Buffer.from(`from ${i}`), expiresAt: later(sim, 60) }),
        ),
      )
    }
    await sim.run(2000)
    for (const g of graphs) {
      assert.deepEqual(
        [...g.records()].map((r) => r.id).sort(),
        [...ids].sort(),
        `${g.peerId} has every record`,
      )
    }
    // Each record crossed each of the 4 links once in the direction of flooding, not more.
    const useful = graphs.map((g, i) => (g.counters?.useful ?? 0) - usefulBefore[i]!)
    assert.deepEqual(useful, [4, 4, 4, 4, 4])
    await drive(sim, graphs[4]!.close())
    await sim.run(1000)
    assert.equal(graphs[3]!.status.hasConnections, true, 'n3 still has n2')
    for (const p of peers) await drive(sim, p.node.stop())
  })
})
