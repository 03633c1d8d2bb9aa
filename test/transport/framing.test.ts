import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { SeededRandom } from '../../src/core/random.ts'
import {
  FramedConnection,
  FrameDecoder,
  encodeFrame,
  joinParts,
} from '../../src/transport/framing.ts'
import { MAX_FRAME_PIECES } from '../../src/transport/constants.ts'
import { createDuplexPair } from '../../src/transport/memory-pipe.ts'
import type { PeerError } from '../../src/core/errors.ts'

describe('FrameDecoder', () => {
  test('frames split and joined across chunks in every way come out whole', () => {
    const random = new SeededRandom('framing/split')
    const payloads = Array.from({ length: 50 }, (_, i) => random.bytes(i * 7))
    const stream = Buffer.concat(payloads.map(encodeFrame))
    for (let trial = 0; trial < 50; trial++) {
      const decoder = new FrameDecoder(1000)
      const out: Uint8Array[] = []
      let pos = 0
      while (pos < stream.length) {
        const n = 1 + random.int(40)
        out.push(...decoder.push(stream.subarray(pos, pos + n)))
        pos += n
      }
      assert.deepEqual(
        out.map((f) => Buffer.from(f).toString('hex')),
        payloads.map((p) => Buffer.from(p).toString('hex')),
      )
      assert.equal(decoder.bufferedBytes, 0)
    }
  })

  test('a frame arriving a byte at a time is gathered into one buffer, not kept per byte', () => {
    const payload = new SeededRandom('framing/bytes').bytes(10_000)
    const stream = encodeFrame(payload)
    const decoder = new FrameDecoder()
    const internals = decoder as unknown as { chunks: Uint8Array[] }
    let frames: Uint8Array[][] = []
    for (let i = 0; i < stream.length; i++) {
      frames = decoder.pushParts(stream.subarray(i, i + 1))
      assert.ok(internals.chunks.length <= MAX_FRAME_PIECES, `${internals.chunks.length} pieces`)
      if (i < stream.length - 1) assert.equal(frames.length, 0)
    }
    assert.equal(frames.length, 1)
    assert.equal(frames[0]!.length, 1, 'one piece')
    assert.deepEqual(Buffer.from(frames[0]![0]!), Buffer.from(payload))
    assert.equal(decoder.bufferedBytes, 0)
    // What follows the frame in the same read starts the next one as usual.
    const two = Buffer.concat([encodeFrame(new Uint8Array([1])), encodeFrame(new Uint8Array([2]))])
    assert.deepEqual(
      decoder.push(two).map((f) => [...f]),
      [[1], [2]],
    )
  })

  test('a header announcing more than the maximum is refused before its body arrives', () => {
    const decoder = new FrameDecoder(100)
    const header = new Uint8Array([0, 0, 0, 101])
    assert.throws(() => decoder.push(header), { code: 'PEER_E_TOO_LARGE' })
    const ok = new FrameDecoder(100)
    assert.deepEqual(ok.push(encodeFrame(new Uint8Array(100))).length, 1)
  })

  test('zero-length frames are frames', () => {
    const decoder = new FrameDecoder(10)
    const frames = decoder.push(
      Buffer.concat([encodeFrame(new Uint8Array(0)), encodeFrame(new Uint8Array(0))]),
    )
    assert.equal(frames.length, 2)
  })
})

describe('FramedConnection', () => {
  test('frames cross a pipe; an oversized frame closes the connection with PEER_E_TOO_LARGE', async () => {
    const [a, b] = createDuplexPair()
    const left = new FramedConnection(a, 64)
    const right = new FramedConnection(b, 64)
    const got: string[] = []
    const closed = new Promise<PeerError | undefined>((resolve) =>
      right.setHandlers({
        frame: (f) => got.push(Buffer.from(joinParts(f)).toString()),
        drain: () => {},
        close: resolve,
      }),
    )
    left.setHandlers({ frame: () => {}, drain: () => {}, close: () => {} })
    left.send(new TextEncoder().encode('one'))
    left.send(new TextEncoder().encode('two'))
    assert.throws(() => left.send(new Uint8Array(65)), { code: 'PEER_E_TOO_LARGE' })
    // A peer that ignores the limit: its header alone closes us.
    a.write(new Uint8Array([0, 0, 1, 0]))
    const error = await closed
    assert.deepEqual(got, ['one', 'two'])
    assert.equal(error?.code, 'PEER_E_TOO_LARGE')
  })
})

describe('memory pipe', () => {
  test('a writer that ignores backpressure is cut off at MAX_QUEUED_WRITE_BYTES', async () => {
    const [a, b] = createDuplexPair()
    let closedWith: PeerError | undefined
    a.setHandlers({ data: () => {}, drain: () => {}, close: (e) => (closedWith = e) })
    b.setHandlers({ data: () => {}, drain: () => {}, close: () => {} })
    b.pause()
    const chunk = new Uint8Array(64 * 1024)
    let accepted = 0
    let refusedAt = -1
    for (let i = 0; i < 200 && refusedAt < 0; i++) {
      if (!a.write(chunk) && a.closed) refusedAt = i
      else accepted += chunk.length
    }
    assert.ok(refusedAt > 0, 'the pipe closed')
    assert.ok(accepted <= 4 * 1024 * 1024, `${accepted} bytes accepted`)
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(closedWith?.code, 'PEER_E_TOO_LARGE')
  })
})
