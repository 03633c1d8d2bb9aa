/**
 * The worked handshake of docs/PROTOCOL.md: two identities and all randomness from fixed seeds,
 * a Noise XX handshake over a pipe, every frame each side wrote recorded.
 */
import { SystemClock } from '../../src/core/clock.ts'
import { toHex } from '../../src/core/bytes.ts'
import { SeededRandom } from '../../src/core/random.ts'
import { Identity } from '../../src/identity/identity.ts'
import { createDuplexPair } from '../../src/transport/memory-pipe.ts'
import { SecureSession, SessionCredentials } from '../../src/transport/secure-session.ts'
import type { Duplex } from '../../src/transport/types.ts'

export interface HandshakeVector {
  context: string
  initiator: { peerName: string; noiseStatic: string }
  responder: { peerName: string; noiseStatic: string }
  /** Frames on the wire, in order, each with its 4-byte length prefix, hex. */
  frames: string[]
  handshakeHash: string
  /** The initiator's first transport message: "hello" on the wire. */
  hello: string
}

function recording(duplex: Duplex, log: Uint8Array[]): Duplex {
  const write = duplex.write.bind(duplex)
  duplex.write = (chunk: Uint8Array): boolean => {
    log.push(new Uint8Array(chunk))
    return write(chunk)
  }
  return duplex
}

export async function makeHandshakeVector(): Promise<HandshakeVector> {
  const now = Date.UTC(2026, 0, 1)
  const ri = new SeededRandom('peerinfra handshake vector/initiator')
  const rr = new SeededRandom('peerinfra handshake vector/responder')
  const alice = new SessionCredentials(
    Identity.create({ classifier: 'alice', random: ri, now }),
    ri,
  )
  const bob = new SessionCredentials(Identity.create({ classifier: 'bob', random: rr, now }), rr)
  const context = 'graph:vector'
  const clock = new SystemClock()
  const wire: Uint8Array[] = []
  const [x, y] = createDuplexPair()
  const [initiator, responder] = await Promise.all([
    SecureSession.initiate(recording(x, wire), { credentials: alice, context, clock, random: ri }),
    SecureSession.respond(recording(y, wire), { credentials: bob, context, clock, random: rr }),
  ])
  const before = wire.length
  initiator.send(new TextEncoder().encode('hello'))
  const hello = toHex(wire[before] as Uint8Array)
  initiator.close()
  responder.close()
  return {
    context,
    initiator: { peerName: alice.identity.peerName, noiseStatic: toHex(alice.noiseKey.publicKey) },
    responder: { peerName: bob.identity.peerName, noiseStatic: toHex(bob.noiseKey.publicKey) },
    frames: wire.slice(0, before).map(toHex),
    handshakeHash: toHex(initiator.handshakeHash),
    hello,
  }
}
