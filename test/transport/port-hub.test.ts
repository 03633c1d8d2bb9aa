/**
 * Several contexts on one listening port (port-hub.ts), on the simulator: each context's
 * connections reach its own manager, an unknown context is refused at once, a silent or
 * garbled first frame is dropped, and the socket closes with its last context.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Identity } from '../../src/identity/identity.ts'
import { createSim, type Sim } from '../../src/sim/index.ts'
import { ConnectionManager } from '../../src/transport/connections.ts'
import { FIRST_FRAME_TIMEOUT_MS, MAX_UNROUTED_PER_ADDRESS } from '../../src/transport/constants.ts'
import { PortHubs } from '../../src/transport/port-hub.ts'
import { contextSelector, SessionCredentials } from '../../src/transport/secure-session.ts'
import type { Duplex } from '../../src/transport/types.ts'
import { rejectsPeerError } from '../helpers/assert-peer-error.ts'
import { drive } from '../helpers/sim.ts'

function manager(sim: Sim, node: string, name: string, context: string, hubs?: PortHubs) {
  const random = sim.random.fork(`${node}/${name}`)
  const identity = Identity.create({ classifier: name, random, now: sim.clock.now() })
  return new ConnectionManager({
    credentials: new SessionCredentials(identity, random),
    context,
    streams: sim.node(node).streams,
    clock: sim.clock,
    random,
    ...(hubs ? { hubs } : {}),
  })
}

test('two contexts share a port; each gets its own connections; the last close frees it', async () => {
  const sim = createSim('port-hub', 'port-hub')
  sim.network.addNode('server')
  sim.network.addNode('client')
  const hubs = new PortHubs(sim.node('server').streams, sim.clock)
  const chat = manager(sim, 'server', 'chat', 'graph:chat', hubs)
  const team = manager(sim, 'server', 'team', 'graph:team', hubs)
  const first = await drive(sim, chat.listen({ port: 3587 }))
  const second = await drive(sim, team.listen({ port: 3587 }))
  assert.deepEqual(second, first)
  await rejectsPeerError(drive(sim, chat.listen({ port: 3587 })), 'PEER_E_ALREADY_LISTENING')
  const again = manager(sim, 'server', 'chat2', 'graph:chat', hubs)
  await rejectsPeerError(drive(sim, again.listen({ port: 3587 })), 'PEER_E_ALREADY_LISTENING')

  const toChat = manager(sim, 'client', 'c1', 'graph:chat')
  const toTeam = manager(sim, 'client', 'c2', 'graph:team')
  const a = await drive(sim, toChat.connect(first))
  const b = await drive(sim, toTeam.connect(first))
  await sim.run(1_000) // the responders register once the last handshake message is in
  assert.equal(a.remote.peerName, chat.ownPeerName)
  assert.equal(b.remote.peerName, team.ownPeerName)
  assert.deepEqual(
    chat.connections().map((c) => c.remote.peerName),
    [toChat.ownPeerName],
  )
  assert.deepEqual(
    team.connections().map((c) => c.remote.peerName),
    [toTeam.ownPeerName],
  )
  // Messages flow on each.
  const got: string[] = []
  team
    .connections()[0]!
    .mux.on('channel', (ch) => ch.on('message', (m) => got.push(new TextDecoder().decode(m))))
  await drive(sim, b.mux.open('x').send(new TextEncoder().encode('hi team')))
  await sim.run(1_000)
  assert.deepEqual(got, ['hi team'])

  // A context no one serves here is refused at once.
  const stranger = manager(sim, 'client', 'c3', 'graph:other')
  await rejectsPeerError(drive(sim, stranger.connect(first)), 'PEER_E_CONNECTION_REFUSED')

  // One context leaves: the other still answers; the last one frees the port.
  await drive(sim, chat.stop())
  const c = manager(sim, 'client', 'c4', 'graph:team')
  assert.equal((await drive(sim, c.connect(first))).remote.peerName, team.ownPeerName)
  await rejectsPeerError(
    drive(sim, manager(sim, 'client', 'c5', 'graph:chat').connect(first)),
    'PEER_E_CONNECTION_REFUSED',
  )
  await drive(sim, team.stop())
  const reuse = manager(sim, 'server', 'reuse', 'graph:x')
  assert.equal((await drive(sim, reuse.listen({ port: 3587 }))).port, 3587, 'the port is free')
  await drive(sim, Promise.all([reuse, toChat, toTeam, stranger, c].map((m) => m.stop())))
})

test('a stream that sends nothing, or a garbled first frame, is dropped without reaching a context', async () => {
  const sim = createSim('port-hub-garbage', 'port-hub-garbage')
  sim.network.addNode('server')
  const client = sim.network.addNode('client')
  const server = manager(sim, 'server', 'srv', 'graph:chat')
  const reached: string[] = []
  server.on('refused', ({ error }) => reached.push(error.code))
  const address = await drive(sim, server.listen({ port: 4000 }))
  const open = async (): Promise<{ duplex: Duplex; closed: () => boolean }> => {
    const duplex = await drive(sim, client.streams.dial(address))
    let closed = false
    duplex.setHandlers({ data: () => {}, drain: () => {}, close: () => (closed = true) })
    return { duplex, closed: () => closed }
  }
  const silent = await open()
  await sim.run(FIRST_FRAME_TIMEOUT_MS - 1_000)
  assert.equal(silent.closed(), false)
  await sim.run(2_000)
  assert.equal(silent.closed(), true, 'dropped after FIRST_FRAME_TIMEOUT_MS')

  // Right length, unknown selector; wrong length; both closed at once.
  const wrongSelector = await open()
  const frame = new Uint8Array(52)
  new DataView(frame.buffer).setUint32(0, 48)
  wrongSelector.duplex.write(frame)
  const wrongLength = await open()
  const long = new Uint8Array(60)
  new DataView(long.buffer).setUint32(0, 56)
  long.set(contextSelector('graph:chat'), 36)
  wrongLength.duplex.write(long)
  await sim.run(1_000)
  assert.equal(wrongSelector.closed(), true)
  assert.equal(wrongLength.closed(), true)
  assert.deepEqual(reached, [], 'none of them reached the context')

  // One address may hold only so many silent streams; another address is still served.
  const held = await Promise.all(Array.from({ length: MAX_UNROUTED_PER_ADDRESS + 1 }, open))
  await sim.run(100)
  assert.deepEqual(
    held.map((h) => h.closed()),
    [...new Array<boolean>(MAX_UNROUTED_PER_ADDRESS).fill(false), true],
  )
  const other = sim.network.addNode('other')
  const fine = await drive(sim, other.streams.dial(address))
  let fineClosed = false
  fine.setHandlers({ data: () => {}, drain: () => {}, close: () => (fineClosed = true) })
  await sim.run(100)
  assert.equal(fineClosed, false)

  // The last context leaving closes the streams still waiting to be routed.
  await drive(sim, server.stop())
  await sim.run(100)
  assert.ok(held.slice(0, MAX_UNROUTED_PER_ADDRESS).every((h) => h.closed()))
  assert.equal(fineClosed, true)
})
