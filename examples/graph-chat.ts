/**
 * GraphChat, the Windows SDK sample, in small. Every chat line is a record of one type, so it
 * floods to every node of the graph and a node that joins later syncs the history. Each node
 * also publishes a "member" record with its name and address, so `/w` can whisper to it over
 * a direct connection (application data: no record, no one else sees it).
 *
 *   npx tsx examples/graph-chat.ts --name alice --listen 4000
 *   npx tsx examples/graph-chat.ts --name bob --connect 127.0.0.1:4000
 *
 * Type a line to say it; `/w <name> text` whispers; `/who` lists members; `/quit` leaves.
 */
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { fromUtf8, utf8 } from '../src/core/bytes.ts'
import type { PeerGraph, PeerRecord } from '../src/graph/index.ts'
import { PeerNode } from '../src/node/peer-node.ts'
import { parseEndpoint } from '../src/pnrp/endpoints.ts'

const GRAPH = 'graph-chat'
const MESSAGE = '0cc0c0c0-1111-4222-8333-444455556666'
const MEMBER = '0ee0e0e0-1111-4222-8333-444455556666'
const WHISPER = '0dd0d0d0-1111-4222-8333-444455556666'

const { values: args } = parseArgs({
  options: {
    name: { type: 'string' },
    listen: { type: 'string', default: '0' },
    connect: { type: 'string' },
    home: { type: 'string' },
  },
})
if (!args.name || !/^[A-Za-z0-9]+$/.test(args.name)) {
  process.stderr.write('usage: graph-chat --name NAME [--listen PORT] [--connect HOST:PORT]\n')
  process.exit(2)
}
const name = args.name
const say = (line: string): boolean => process.stdout.write(line + '\n')

const node = await PeerNode.start({
  dataDir: args.home ?? join(tmpdir(), 'peerinfra-graph-chat', name),
})
if (node.identities.list().length === 0) await node.identities.create({ classifier: name })

/** Our graph: joined through --connect, else the one here, else a new one. */
async function openChat(): Promise<PeerGraph> {
  const graph = await node.graphs.open(GRAPH)
  if (args.connect) {
    const ready = new Promise<void>((resolve) => {
      if (graph.status.synchronized) resolve()
      graph.on('status-changed', (e) => e.status.synchronized && resolve())
    })
    await graph.connect(parseEndpoint(args.connect))
    await ready
    return graph
  }
  if (!graph.dataCreated) return graph
  await graph.close()
  await node.graphs.delete(GRAPH)
  return node.graphs.create({ graphId: GRAPH, friendlyName: 'Graph chat' })
}

const graph = await openChat()
const at = await graph.listen({ port: Number(args.listen) })
const inADay = (): Date => new Date(graph.peerTime().getTime() + 86_400_000)
await graph.addRecord({
  type: MEMBER,
  attributes: { name, address: at.address, port: at.port },
  expiresAt: inADay(),
})
say(`${name} (${graph.peerId}) listening on ${at.address}:${at.port}`)

const line = (r: PeerRecord): string =>
  `${String(r.attributes['name'] ?? r.creatorId)}: ${fromUtf8(r.data)}`
const history = [...graph.records({ type: MESSAGE })]
for (const r of history.sort((x, y) => +x.createdAt - +y.createdAt).slice(-10)) say(line(r))

graph.on('record-changed', ({ change, recordId, recordType }) => {
  const r = graph.getRecord(recordId)
  if (change !== 'added' || !r) return
  if (recordType === MESSAGE) say(line(r))
  if (recordType === MEMBER && r.creatorId !== graph.peerId)
    say(`* ${String(r.attributes['name'])} joined`)
})
graph.on('incoming-data', ({ connectionId, dataType, data }) => {
  if (dataType !== WHISPER) return
  const from = graph.connections('direct').find((c) => c.connectionId === connectionId)
  say(
    `(whisper from ${members().find((m) => m.peerId === from?.peerId)?.name ?? '?'}) ${fromUtf8(data)}`,
  )
})

function members(): { name: string; peerId: string; address: string; port: number }[] {
  return [...graph.records({ type: MEMBER })].map((r) => ({
    name: String(r.attributes['name']),
    peerId: r.creatorId,
    address: String(r.attributes['address']),
    port: Number(r.attributes['port']),
  }))
}

async function whisper(to: string, text: string): Promise<void> {
  const member = members().find((m) => m.name === to || m.peerId === to)
  if (!member) return void say(`no member ${to} (try /who)`)
  const id = await graph.openDirectConnection(member.peerId, member)
  await graph.sendData(id, WHISPER, utf8(text))
  setTimeout(() => void graph.closeDirectConnection(id).catch(() => {}), 1000)
}

const input = createInterface({ input: process.stdin })
for await (const text of input) {
  try {
    if (text === '/quit') break
    else if (text === '/who') members().forEach((m) => say(`${m.name}  ${m.address}:${m.port}`))
    else if (text.startsWith('/w ')) {
      const [, to = '', ...words] = text.split(' ')
      await whisper(to, words.join(' '))
    } else if (text.trim() !== '') {
      await graph.addRecord({
        type: MESSAGE,
        attributes: { name },
        data: utf8(text),
        expiresAt: inADay(),
      })
    }
  } catch (err) {
    say(`error: ${(err as Error).message}`)
  }
}
input.close()
await node.stop()
