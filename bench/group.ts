/**
 * Peer Grouping (issue acceptance): authenticated joins per second and signed records
 * validated per second, each beside a baseline measured in the same run.
 *
 * (1) raw verify: `--records` (20,000) Ed25519 verifications with PublicKey.verify
 *     (src/identity/keys.ts) of exactly the bytes the records of (2) are signed over
 *     (domain-separated, about 400 bytes each), and for reference of 64-byte messages.
 * (2) record validation: a group root, an admin A (the validator) and a member B (the writer)
 *     issued by A; A's GroupSecurity already knows B's chain (acceptChain). B signs
 *     `--records` distinct GraphRecords (secureRecord: 200 data bytes, 2 attributes); A's
 *     validateRecord runs over all of them, each must be 'accept'. Goal: at least 0.7x the raw
 *     verify rate of (1) on the same bytes.
 * Both are the best of `--rounds` (3) rounds, timed with process.hrtime.bigint, the two
 * measurements alternating within each round.
 * (3) joins: two PeerNodes in this process on real TCP on 127.0.0.1 (temporary data dirs under
 *     os.tmpdir()). The admin node creates a group and listens; `--joins` (30) identities of the
 *     joiner node join one after the other, each the full path of a real user: the admin's
 *     createInvitation for its identity info, groups.join (chain verified, group database
 *     opened), connectByAddress to the admin until the group is synchronized (Noise handshake
 *     with the membership chain verified on both sides, CONNECT/WELCOME, first sync of the
 *     group's signed records). The baseline, interleaved with it: the same identity opens a
 *     plain graph of the admin node (no security provider) and connects to it until
 *     synchronized. Handshake = connect start to the connection established (the joiner's
 *     hasConnections). Each joined handle is closed before the next join (untimed), so every
 *     join meets the admin alone; 2 unrecorded joins of each kind warm up first.
 *
 *   npx tsx bench/group.ts [--records 20000] [--rounds 3] [--joins 30]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { SeededRandom } from '../src/core/random.ts'
import type { GraphEvents } from '../src/graph/events.ts'
import type { PeerGraph } from '../src/graph/graph.ts'
import { encodeRecord } from '../src/graph/record-codec.ts'
import { newRecordId, type GraphRecord } from '../src/graph/records.ts'
import { GROUP_DOMAIN, ROLE_ADMIN, ROLE_MEMBER } from '../src/group/constants.ts'
import { createGroupRoot, issueMembership } from '../src/group/credentials.ts'
import type { PeerGroup } from '../src/group/group.ts'
import {
  readRecordSignature,
  signedBytes as recordSignedBytes,
} from '../src/group/record-signing.ts'
import { GroupSecurity } from '../src/group/security.ts'
import type { Certificate } from '../src/identity/certificate.ts'
import { KeyPair, type PublicKey } from '../src/identity/keys.ts'
import { PeerName } from '../src/identity/peer-name.ts'
import { PeerNode } from '../src/node/peer-node.ts'

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '3' },
    joins: { type: 'string', default: '30' },
    seed: { type: 'string', default: 'bench:group' },
  },
})

function count(name: string, text: string, min: number): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`)
  return n
}

const RECORDS = count('records', values.records, 100)
const ROUNDS = count('rounds', values.rounds, 1)
const JOINS = count('joins', values.joins, 1)
const WARM_UP_JOINS = 2
const SEED = values.seed
const GOAL_VALIDATE = 0.7
const CHAT = '0cc0c0c0-1111-4222-8333-444455556666'
const DATA_BYTES = 200
const HOUR = 3_600_000
const JOIN_TIMEOUT_MS = 30_000

const wall0 = performance.now()

function progress(what: string): void {
  const wall = ((performance.now() - wall0) / 1000).toFixed(0)
  process.stderr.write(`  [${wall} s] ${what}\n`)
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US')
const fix = (n: number, d = 2): string => (Number.isFinite(n) ? n.toFixed(d) : String(n))
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}
const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0)

function printTable(headers: string[], rows: string[][]): void {
  const all = [headers, ...rows]
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)))
  for (const r of all) console.log(r.map((c, i) => (c ?? '').padEnd(widths[i]!)).join('  '))
}

/** Seconds taken by `fn`, on the monotonic clock. */
function timed(fn: () => void): number {
  const start = process.hrtime.bigint()
  fn()
  return Number(process.hrtime.bigint() - start) / 1e9
}

// ---- (1) and (2): raw verify and record validation ---------------------------------------

interface Signed {
  records: GraphRecord[]
  /** Exactly what each record's signature covers (without the domain prefix). */
  signedBytes: Uint8Array[]
  signatures: Uint8Array[]
  writerKey: PublicKey
  validator: GroupSecurity
}

function peerNameOf(key: KeyPair, classifier: string): string {
  return PeerName.fromParts(key.publicKey.authority, classifier).toString()
}

/** A group with admin A and member B; B signs `n` distinct records; A knows B's chain. */
function signedRecords(n: number): Signed {
  const rng = new SeededRandom(`${SEED}/records`)
  const now = Date.now()
  const root = createGroupRoot('bench', now - 60_000, rng)
  const keyA = KeyPair.generate(rng)
  const keyB = KeyPair.generate(rng)
  const nameA = peerNameOf(keyA, 'a')
  const nameB = peerNameOf(keyB, 'b')
  const chainA = issueMembership({
    issuer: root.key,
    issuerChain: [root.certificate],
    subjectKey: keyA.publicKey,
    subjectName: nameA,
    roles: [ROLE_ADMIN],
    notBefore: now - 60_000,
    notAfter: now + 24 * HOUR,
    random: rng,
  })
  const chainB = issueMembership({
    issuer: keyA,
    issuerChain: chainA,
    subjectKey: keyB.publicKey,
    subjectName: nameB,
    roles: [ROLE_MEMBER],
    notBefore: now - 30_000,
    notAfter: now + 12 * HOUR,
    random: rng,
  })
  const security = (name: string, key: KeyPair, chain: readonly Certificate[]) =>
    new GroupSecurity({
      groupPeerName: root.peerName,
      root: root.certificate,
      peerName: name,
      key,
      chain: () => chain,
      now: () => Date.now(),
    })
  const validator = security(nameA, keyA, chainA)
  const writer = security(nameB, keyB, chainB)
  validator.acceptChain(chainB)

  const records: GraphRecord[] = []
  const signedBytes: Uint8Array[] = []
  const signatures: Uint8Array[] = []
  for (let i = 0; i < n; i++) {
    const at = now - n + i
    const r: GraphRecord = {
      type: CHAT,
      id: newRecordId(nameB, rng),
      version: 1,
      flags: 0,
      creator: nameB,
      modifiedBy: nameB,
      createdAt: at,
      modifiedAt: at,
      expiresAt: at + HOUR,
      attributes: [
        { name: 'author', type: 'string', value: 'bench writer' },
        { name: 'seq', type: 'int', value: i },
      ],
      securityData: new Uint8Array(0),
      data: rng.bytes(DATA_BYTES),
    }
    r.securityData = writer.secureRecord(r, 'added')
    const sig = readRecordSignature(r)
    // The bytes record-signing.ts signs: MS-PPSEC's canonical form with the two serials.
    signedBytes.push(recordSignedBytes(root.peerName, r, sig.creatorSerial, sig.modifierSerial))
    signatures.push(sig.signature)
    records.push(r)
  }
  return { records, signedBytes, signatures, writerKey: keyB.publicKey, validator }
}

interface CryptoFigures {
  /** Mean bytes each record's signature covers. */
  signedLength: number
  encodedLength: number
  raw: number
  raw64: number
  validate: number
}

function partCrypto(): CryptoFigures {
  progress(`(1, 2) signing ${fmt(RECORDS)} records`)
  const s = signedRecords(RECORDS)
  const n = s.records.length
  const domain = GROUP_DOMAIN.record
  // 64-byte messages, signed by the same key, for comparison with the other benches.
  const rng = new SeededRandom(`${SEED}/short`)
  const keyShort = KeyPair.generate(rng)
  const short = Array.from({ length: n }, () => rng.bytes(64))
  const shortSigs = short.map((m) => keyShort.sign(domain, m))

  const rawRound = (): number =>
    timed(() => {
      for (let i = 0; i < n; i++) {
        if (!s.writerKey.verify(domain, s.signedBytes[i]!, s.signatures[i]!)) {
          throw new Error(`raw verify failed at ${i}`)
        }
      }
    })
  const raw64Round = (): number =>
    timed(() => {
      for (let i = 0; i < n; i++) {
        if (!keyShort.publicKey.verify(domain, short[i]!, shortSigs[i]!)) {
          throw new Error(`raw verify (64 bytes) failed at ${i}`)
        }
      }
    })
  const validateRound = (): number =>
    timed(() => {
      for (let i = 0; i < n; i++) {
        const v = s.validator.validateRecord(s.records[i]!, 'added')
        if (v !== 'accept') throw new Error(`record ${i}: ${v}`)
      }
    })
  // Warm-up (JIT), unrecorded.
  const few = Math.min(n, 500)
  for (let i = 0; i < few; i++) {
    s.writerKey.verify(domain, s.signedBytes[i]!, s.signatures[i]!)
    s.validator.validateRecord(s.records[i]!, 'added')
  }
  let raw = Infinity
  let raw64 = Infinity
  let validate = Infinity
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which goes first, so that neither always follows the other.
    let r: number
    let v: number
    if (round % 2 === 0) {
      r = rawRound()
      v = validateRound()
    } else {
      v = validateRound()
      r = rawRound()
    }
    raw = Math.min(raw, r)
    validate = Math.min(validate, v)
    raw64 = Math.min(raw64, raw64Round())
    progress(
      `(1, 2) round ${round + 1}/${ROUNDS}: raw ${fmt(n / r)}/s, validate ${fmt(n / v)}/s (${fix(r / v)})`,
    )
  }
  return {
    signedLength: sum(s.signedBytes.map((b) => b.length)) / n,
    encodedLength: sum(s.records.map((r) => encodeRecord(r).length)) / n,
    raw: n / raw,
    raw64: n / raw64,
    validate: n / validate,
  }
}

// ---- (3): joins over TCP ------------------------------------------------------------------

interface JoinTimes {
  /**
   * ms: invitation (group only), join or open, handshake, handshake to synchronized, the
   * rest of the connect call after that (the group's connectByAddress listens once synced).
   */
  invite: number
  open: number
  handshake: number
  sync: number
  rest: number
  total: number
}

interface Watchable {
  readonly status: { hasConnections: boolean; synchronized: boolean }
  on(type: 'status-changed', fn: (e: GraphEvents['status-changed']) => void): () => void
}

/**
 * Runs `connect` and resolves once it returned and `target` is synchronized, with the times
 * (ms, from the call) at which the first connection was established, at which `target`
 * synchronized, and at which both were done.
 */
async function connectUntilSynced(
  target: Watchable,
  connect: () => Promise<unknown>,
): Promise<{ handshake: number; synced: number; done: number }> {
  const start = performance.now()
  let handshakeAt = 0
  let off: () => void = () => {}
  const synced = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no sync in time')), JOIN_TIMEOUT_MS)
    const check = () => {
      const now = performance.now()
      if (handshakeAt === 0 && target.status.hasConnections) handshakeAt = now
      if (target.status.synchronized) {
        clearTimeout(timer)
        resolve(now)
      }
    }
    off = target.on('status-changed', check)
  })
  try {
    const [, syncedAt] = await Promise.all([connect(), synced])
    return {
      handshake: handshakeAt - start,
      synced: syncedAt - start,
      done: performance.now() - start,
    }
  } finally {
    off()
  }
}

interface JoinFigures {
  group: JoinTimes[]
  plain: JoinTimes[]
  groupWall: number
  plainWall: number
  members: number
}

async function partJoins(): Promise<JoinFigures> {
  const root = await mkdtemp(join(tmpdir(), 'peerinfra-bench-group-'))
  let admin: PeerNode | undefined
  let joiner: PeerNode | undefined
  try {
    admin = await PeerNode.start({ dataDir: join(root, 'admin') })
    joiner = await PeerNode.start({ dataDir: join(root, 'joiner') })
    await admin.identities.create({ classifier: 'admin' })
    const ga = await admin.groups.create({ classifier: 'bench', friendlyName: 'Bench' })
    await ga.connect({ host: '127.0.0.1' })
    const groupAt = ga.localNode.addresses.find((a) => a.address === '127.0.0.1')
    if (!groupAt) throw new Error('the group does not listen on 127.0.0.1')
    const plainGraph = await admin.graphs.create({ graphId: 'bench-plain' })
    const plainAt = await plainGraph.listen({ host: '127.0.0.1' })

    const total = WARM_UP_JOINS + JOINS
    progress(`(3) creating ${total} identities on the joiner node`)
    const ids: { peerName: string; infoXml: string }[] = []
    for (let i = 0; i < total; i++) {
      const id = await joiner.identities.create({ classifier: `j${i}` })
      ids.push({ peerName: id.peerName, infoXml: joiner.identities.getInfoXml(id.peerName) })
    }

    const node = joiner
    const groupJoin = async (i: number): Promise<JoinTimes> => {
      const { peerName, infoXml } = ids[i]!
      const t0 = performance.now()
      const invitation = await ga.createInvitation({ invitee: infoXml })
      const t1 = performance.now()
      const gb: PeerGroup = await node.groups.join({ identity: peerName, invitation })
      const t2 = performance.now()
      const c = await connectUntilSynced(gb, () =>
        gb.connectByAddress([{ address: '127.0.0.1', port: groupAt.port }], {
          listen: { host: '127.0.0.1' },
        }),
      )
      const t3 = performance.now()
      await gb.close()
      return {
        invite: t1 - t0,
        open: t2 - t1,
        handshake: c.handshake,
        sync: c.synced - c.handshake,
        rest: c.done - c.synced,
        total: t3 - t0,
      }
    }
    const plainJoin = async (i: number): Promise<JoinTimes> => {
      const { peerName } = ids[i]!
      const t0 = performance.now()
      const g: PeerGraph = await node.graphs.open('bench-plain', { peerId: peerName })
      const t1 = performance.now()
      const c = await connectUntilSynced(g, () =>
        g.connect({ address: '127.0.0.1', port: plainAt.port }),
      )
      const t2 = performance.now()
      await g.close()
      return {
        invite: 0,
        open: t1 - t0,
        handshake: c.handshake,
        sync: c.synced - c.handshake,
        rest: c.done - c.synced,
        total: t2 - t0,
      }
    }

    for (let i = 0; i < WARM_UP_JOINS; i++) {
      await groupJoin(i)
      await plainJoin(i)
    }
    progress(`(3) ${JOINS} group joins and ${JOINS} plain graph joins, interleaved`)
    const group: JoinTimes[] = []
    const plain: JoinTimes[] = []
    for (let i = WARM_UP_JOINS; i < total; i++) {
      // Alternate which goes first.
      if (i % 2 === 0) {
        group.push(await groupJoin(i))
        plain.push(await plainJoin(i))
      } else {
        plain.push(await plainJoin(i))
        group.push(await groupJoin(i))
      }
    }
    const members = ga.members().length
    await plainGraph.close()
    await ga.close()
    return {
      group,
      plain,
      groupWall: sum(group.map((t) => t.total)) / 1000,
      plainWall: sum(plain.map((t) => t.total)) / 1000,
      members,
    }
  } finally {
    await joiner?.stop().catch(() => {})
    await admin?.stop().catch(() => {})
    await rm(root, { recursive: true, force: true })
  }
}

// ---- main -----------------------------------------------------------------------------

const command = `npx tsx bench/group.ts --records ${RECORDS} --rounds ${ROUNDS} --joins ${JOINS}`
console.log(`Peer Grouping: ${command}`)
console.log(
  `Node ${process.version}, ${availableParallelism()} cores, load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} at start`,
)

const c = partCrypto()
const j = await partJoins()

const perSecond = (ms: number): number => 1000 / ms
const gTotal = median(j.group.map((t) => t.total))
const pTotal = median(j.plain.map((t) => t.total))
const gShake = median(j.group.map((t) => t.handshake))
const pShake = median(j.plain.map((t) => t.handshake))
const validateRatio = c.validate / c.raw

console.log('')
console.log(
  `== Signed records (${fmt(RECORDS)}, ${DATA_BYTES} data bytes, 2 attributes, ${fmt(c.encodedLength)} bytes encoded; signatures cover ${fmt(c.signedLength)} bytes), best of ${ROUNDS} rounds`,
)
printTable(
  ['figure', 'rate', 'baseline', 'ratio', 'goal'],
  [
    [
      'raw Ed25519 verify, PublicKey.verify of the records\u2019 signed bytes',
      `${fmt(c.raw)}/s`,
      '',
      '',
      '',
    ],
    ['raw Ed25519 verify, 64-byte messages', `${fmt(c.raw64)}/s`, '', '', ''],
    [
      'signed records validated, GroupSecurity.validateRecord',
      `${fmt(c.validate)}/s`,
      `${fmt(c.raw)}/s raw verify`,
      fix(validateRatio),
      `>= ${GOAL_VALIDATE} ${validateRatio >= GOAL_VALIDATE ? 'met' : 'NOT met'}`,
    ],
  ],
)

console.log('')
console.log(
  `== Joins over TCP on 127.0.0.1, ${JOINS} of each kind one after the other (interleaved), after ${WARM_UP_JOINS} unrecorded`,
)
printTable(
  ['figure', 'group (authenticated)', 'plain graph', 'group / plain'],
  [
    [
      'joins/s, wall clock over the sequential joins',
      fix(JOINS / j.groupWall, 1),
      fix(JOINS / j.plainWall, 1),
      fix(JOINS / j.groupWall / (JOINS / j.plainWall)),
    ],
    [
      'joins/s from the median join',
      fix(perSecond(gTotal), 1),
      fix(perSecond(pTotal), 1),
      fix(pTotal / gTotal),
    ],
    [
      'handshakes/s from the median handshake (connect to established)',
      fix(perSecond(gShake), 1),
      fix(perSecond(pShake), 1),
      fix(pShake / gShake),
    ],
  ],
)
console.log('')
console.log('Median ms per join, by phase:')
const phase = (ts: JoinTimes[], k: keyof JoinTimes): string => fix(median(ts.map((t) => t[k])), 1)
printTable(
  ['', 'invitation', 'join / open', 'handshake', 'to synchronized', 'rest of connect', 'total'],
  [
    [
      'group',
      ...(['invite', 'open', 'handshake', 'sync', 'rest', 'total'] as const).map((k) =>
        phase(j.group, k),
      ),
    ],
    [
      'plain graph',
      '',
      ...(['open', 'handshake', 'sync', 'rest', 'total'] as const).map((k) => phase(j.plain, k)),
    ],
  ],
)
console.log('')
console.log(
  `The admin lists ${j.members} members after the run (itself and ${j.members - 1} joiners). Load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} at the end, ${fix((performance.now() - wall0) / 1000, 0)} s wall.`,
)
console.log(
  validateRatio >= GOAL_VALIDATE
    ? `Goal met: record validation at ${fix(validateRatio)}x raw verify (>= ${GOAL_VALIDATE}).`
    : `Goal NOT met: record validation at ${fix(validateRatio)}x raw verify (goal >= ${GOAL_VALIDATE}).`,
)
