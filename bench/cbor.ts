/**
 * Our deterministic CBOR codec (src/wire) against cborg with RFC 8949 options, the library it
 * replaced on the hot path, on messages the protocols send: a PNRP AUTHORITY with a CPA and
 * route entries, a graph record, a small ACK. Encoding: encodeCbor (the direct encoder) vs
 * cborg's encode. Decoding: decodeCbor (one checking walk, then the direct decoder) vs what it
 * did before: the walk, cborg's decode, and cborg's encode of the value again to prove the
 * input canonical. Both in the same run; prints microseconds per call and the ratio.
 *
 *   npx tsx bench/cbor.ts [--iterations 100000]
 */
import { parseArgs } from 'node:util'
import { decode as cborgDecode, encode as cborgEncode, rfc8949EncodeOptions } from 'cborg'
import { decodeCbor, encodeCbor, scanCbor } from '../src/wire/cbor.ts'

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '100000' } } })
const ITERATIONS = Number(values.iterations)

const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill)
const entry = (i: number) => ({ id: bytes(32, i), ep: [{ a: `10.0.0.${i}`, p: 3540 }] })
const MESSAGES: Record<string, unknown> = {
  'PNRP AUTHORITY': {
    t: 'authority',
    id: bytes(8, 1),
    target: bytes(32, 2),
    cpa: bytes(300, 3),
    entries: [entry(1), entry(2), entry(3), entry(4), entry(5)],
    path: [
      { a: 'n1', p: 3540 },
      { a: 'n2', p: 3540 },
    ],
  },
  'graph record': {
    t: '0cc0c0c0-1111-4222-8333-444455556666',
    id: 'c0ffee00-1111-4222-8333-444455556666',
    v: 3,
    f: 0,
    c: 'a'.repeat(40) + '.alice',
    m: 'a'.repeat(40) + '.alice',
    ct: 1_764_460_800_000,
    et: 1_764_547_200_000,
    mt: 1_764_460_900_000,
    a: [{ n: 'author', v: 'alice' }],
    s: bytes(96, 4),
    d: bytes(1024, 5),
  },
  'PNRP ACK': { t: 'ack', id: bytes(8, 6) },
}

/** The decoding peerinfra did before: walk, decode, encode again and compare. */
function decodeBefore(input: Uint8Array): unknown {
  if (scanCbor(input)) throw new Error('malformed')
  const value: unknown = cborgDecode(input, { strict: true, rejectDuplicateMapKeys: true })
  const again = cborgEncode(value, rfc8949EncodeOptions)
  if (!Buffer.from(again).equals(input)) throw new Error('not deterministic')
  return value
}

/** Microseconds per call of `fn`, after a warm-up of a tenth as many calls. */
function time(fn: () => unknown): number {
  for (let i = 0; i < ITERATIONS / 10; i++) fn()
  const start = process.hrtime.bigint()
  for (let i = 0; i < ITERATIONS; i++) fn()
  return Number(process.hrtime.bigint() - start) / 1000 / ITERATIONS
}

console.log(`cbor: ${ITERATIONS} calls each; node ${process.version}`)
console.log(
  'message           bytes  encode ours / cborg (us)   ratio  decode ours / before (us)  ratio',
)
for (const [name, value] of Object.entries(MESSAGES)) {
  const encoded = encodeCbor(value)
  const encodeOurs = time(() => encodeCbor(value))
  const encodeCborg = time(() => cborgEncode(value, rfc8949EncodeOptions))
  const decodeOurs = time(() => decodeCbor(encoded))
  const decodeOld = time(() => decodeBefore(encoded))
  console.log(
    `${name.padEnd(16)}  ${String(encoded.length).padStart(5)}  ` +
      `${encodeOurs.toFixed(2).padStart(8)} / ${encodeCborg.toFixed(2).padStart(6)}` +
      `${(encodeCborg / encodeOurs).toFixed(2).padStart(12)}x  ` +
      `${decodeOurs.toFixed(2).padStart(8)} / ${decodeOld.toFixed(2).padStart(6)}` +
      `${(decodeOld / decodeOurs).toFixed(2).padStart(13)}x`,
  )
}
