/**
 * Demo: Peer Graphing on real TCP sockets on 127.0.0.1. Node A creates a graph and listens;
 * B joins through A and C through B; records, an update and a delete flood along the chain; a
 * late node D syncs everything; a search runs; D lists who is online (presence, with the
 * attributes A and C set); D whispers to A over a direct connection.
 */
import { join } from 'node:path'
import { fromUtf8, utf8 } from '../src/core/bytes.ts'
import type { GraphEvents, PeerGraph } from '../src/graph/index.ts'
import { PeerNode } from '../src/node/peer-node.ts'
import type { DemoContext } from './index.ts'

const CHAT = '0cc0c0c0-1111-4222-8333-444455556666'
const WHISPER = '0dd0d0d0-1111-4222-8333-444455556666'
const HOUR = 3_600_000

/** Resolves with the first event of `type` that `match` accepts (rejects after 10 s). */
function next<K extends keyof GraphEvents>(
  graph: PeerGraph,
  type: K,
  match: (e: GraphEvents[K]) => boolean = () => true,
): Promise<GraphEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off()
      reject(new Error(`${graph.peerId}: no ${type} within 10 s`))
    }, 10_000)
    const off = graph.on(type, (e) => {
      if (!match(e)) return
      clearTimeout(timer)
      off()
      resolve(e)
    })
  })
}

/** Connects `graph` to `to` and waits until the first sync has made it ready. */
async function join_(graph: PeerGraph, to: PeerGraph): Promise<void> {
  const synced = graph.status.synchronized
    ? Promise.resolve()
    : next(graph, 'status-changed', (e) => e.status.synchronized).then(() => undefined)
  await graph.connect({ ...to.localNode.addresses[0]!, peerId: to.peerId })
  await synced
}

const recordChanged = (change: string, recordId: string) => (e: GraphEvents['record-changed']) =>
  e.change === change && e.recordId === recordId

export async function graphDemo(demo: DemoContext): Promise<void> {
  demo.step('Graphing: A creates "demo-chat" and listens; B joins through A, C through B')
  const nodes: PeerNode[] = []
  const start = async (name: string): Promise<PeerNode> => {
    const node = await PeerNode.start({ dataDir: join(demo.root, 'graph', name) })
    nodes.push(node)
    await node.identities.create({ classifier: name })
    return node
  }
  const inAnHour = (g: PeerGraph): Date => new Date(g.peerTime().getTime() + HOUR)
  try {
    const a = await (await start('a')).graphs.create({ graphId: 'demo-chat', friendlyName: 'Demo' })
    const at = await a.listen({ port: 0 })
    demo.say('A listens', `127.0.0.1:${at.port}`)
    await a.addRecord({
      type: CHAT,
      data: utf8('welcome'),
      attributes: { author: 'a' },
      expiresAt: inAnHour(a),
    })
    const b = await (await start('b')).graphs.open('demo-chat')
    demo.say('B opens', `data created: ${b.dataCreated}, synchronized: ${b.status.synchronized}`)
    await join_(b, a)
    await b.listen({ port: 0 })
    const c = await (await start('c')).graphs.open('demo-chat')
    await join_(c, b)
    await c.listen({ port: 0 })
    demo.say('C joined', `via B: "${c.properties.friendlyName}", ${c.recordCount} record`)

    demo.step('Graphing: records flood (an add on C shows on A), an update and a delete too')
    const fromC = await c.addRecord({
      type: CHAT,
      data: utf8('hello from C'),
      attributes: { author: 'c' },
      expiresAt: inAnHour(c),
    })
    await next(a, 'record-changed', recordChanged('added', fromC))
    demo.say('A received', `"${fromUtf8(a.getRecord(fromC)!.data)}" (C -> B -> A)`)
    const updatedOnC = next(c, 'record-changed', recordChanged('updated', fromC))
    await a.updateRecord(fromC, { data: utf8('hello from C (edited by A)') })
    await updatedOnC
    const edited = c.getRecord(fromC)!
    demo.say('C sees update', `version ${edited.version} "${fromUtf8(edited.data)}"`)
    const deletedOnA = next(a, 'record-changed', recordChanged('deleted', fromC))
    const deletedOnC = next(c, 'record-changed', recordChanged('deleted', fromC))
    await b.deleteRecord(fromC)
    await Promise.all([deletedOnA, deletedOnC])
    demo.say('B deletes it', `gone on A: ${!a.getRecord(fromC)}, gone on C: ${!c.getRecord(fromC)}`)

    demo.step('Graphing: a late node D joins through C and syncs everything; a search')
    for (let i = 1; i <= 5; i++) {
      const g = [a, b, c][i % 3]!
      await g.addRecord({
        type: CHAT,
        data: utf8(`message ${i}`),
        attributes: { author: ['a', 'b', 'c'][i % 3]!, n: i },
        expiresAt: inAnHour(g),
      })
    }
    // D syncs from C: let the five reach C first.
    for (let waited = 0; c.recordCount < a.recordCount && waited < 10_000; waited += 20) {
      await new Promise((r) => setTimeout(r, 20))
    }
    const d = await (await start('d')).graphs.open('demo-chat')
    await join_(d, c)
    demo.say('D synced', `${d.recordCount} records arrived (A has ${a.recordCount})`)
    const query =
      '<peersearch><and>' +
      '<clause attrib="author" type="string" compare="equal">b</clause>' +
      '<clause attrib="n" type="int" compare="greater">0</clause>' +
      '</and></peersearch>'
    const found = d
      .search(query)
      .map((r) => fromUtf8(r.data))
      .sort()
    demo.say('D searches', `author = b and n > 0: ${found.map((t) => `"${t}"`).join(', ')}`)

    demo.step('Graphing: presence: D sees who is online, and what they say of themselves')
    // Every listening node publishes its presence (presenceMax -1); attributes are free text.
    await a.setNodeAttributes('at the front desk')
    await c.setNodeAttributes('working from home')
    const names = new Map([a, b, c, d].map((g, i) => [g.peerId, 'ABCD'[i]!]))
    const described = (): number => d.nodes().filter((n) => n.attributes).length
    for (let waited = 0; described() < 2 && waited < 10_000; waited += 20) {
      await new Promise((r) => setTimeout(r, 20))
    }
    const online = d
      .nodes()
      .map((n) => `${names.get(n.peerId)}${n.attributes ? ` (${n.attributes})` : ''}`)
      .sort()
    demo.say('D lists', `${online.length} nodes online: ${online.join(', ')}`)

    demo.step('Graphing: D whispers to A over a direct connection')
    const received = next(a, 'incoming-data', (e) => e.dataType === WHISPER)
    const direct = await d.openDirectConnection(a.peerId, a.localNode.addresses[0]!)
    await d.sendData(direct, WHISPER, utf8('psst, A: only you see this'))
    const whisper = await received
    demo.say('A received', `whisper "${fromUtf8(whisper.data)}" (not a record)`)
    await d.closeDirectConnection(direct)
  } finally {
    for (const node of nodes) await node.stop()
  }
}
