/**
 * Ed25519 through peerinfra's identity API (domain-separated signatures on a stored identity)
 * against raw node:crypto on the same key and message, measured in the same run, interleaved
 * round by round so machine noise hits both alike. Prints rates and the ratio ours/raw.
 *
 *   npm run bench:crypto [-- --rounds 15 --ops 2000 --bytes 256]
 */
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto'
import { parseArgs } from 'node:util'
import { SeededRandom } from '../src/core/random.ts'
import { VirtualClock } from '../src/core/clock.ts'
import { Identity } from '../src/identity/identity.ts'
import { PKCS8_PREFIX } from '../src/identity/keys.ts'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '15' },
    ops: { type: 'string', default: '2000' },
    bytes: { type: 'string', default: '256' },
  },
})
const rounds = Number(values.rounds)
const ops = Number(values.ops)
const random = new SeededRandom('bench-crypto')
const message = random.bytes(Number(values.bytes))
const DOMAIN = 'peerinfra/v1/bench'

const identity = Identity.create({ classifier: 'bench', random, now: new VirtualClock().now() })
// The raw baseline: node:crypto KeyObjects for the same key, built once as a careful user would.
const seed = identity.keyPair.exportSeed()
const rawPrivate = createPrivateKey({
  key: Buffer.concat([PKCS8_PREFIX, seed]),
  format: 'der',
  type: 'pkcs8',
})
const rawPublic = createPublicKey(rawPrivate)
const rawSignature = sign(null, message, rawPrivate)
const ourSignature = identity.sign(DOMAIN, message)
const key = identity.key

function rate(fn: () => void): number {
  const start = process.hrtime.bigint()
  for (let i = 0; i < ops; i++) fn()
  return ops / (Number(process.hrtime.bigint() - start) / 1e9)
}

const cases = {
  'sign raw': () => sign(null, message, rawPrivate),
  'sign ours': () => identity.sign(DOMAIN, message),
  'verify raw': () => {
    if (!verify(null, message, rawPublic, rawSignature)) throw new Error('raw verify failed')
  },
  'verify ours': () => {
    if (!key.verify(DOMAIN, message, ourSignature)) throw new Error('verify failed')
  },
}
type Case = keyof typeof cases
const samples: Record<Case, number[]> = {
  'sign raw': [],
  'sign ours': [],
  'verify raw': [],
  'verify ours': [],
}

for (const fn of Object.values(cases)) rate(fn) // warm-up
for (let r = 0; r < rounds; r++) {
  // Alternate the order each round so neither side always runs first.
  const order = Object.keys(cases) as Case[]
  if (r % 2 === 1) order.reverse()
  for (const name of order) samples[name].push(rate(cases[name]))
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US').padStart(8)

console.log(`Ed25519, ${message.length}-byte message, ${rounds} rounds x ${ops} ops, median rate:`)
for (const op of ['sign', 'verify'] as const) {
  const raw = median(samples[`${op} raw`])
  const ours = median(samples[`${op} ours`])
  console.log(
    `  ${op.padEnd(6)} raw node:crypto ${fmt(raw)}/s   peerinfra ${fmt(ours)}/s   ratio ${(ours / raw).toFixed(3)}`,
  )
}
