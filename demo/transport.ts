/** The secure transport part of the demo: two nodes on 127.0.0.1, one Noise XX channel. */
import pc from 'picocolors'
import { systemClock, systemRandom, PeerError, Identity } from '../src/index.ts'
import { ConnectionManager, type PeerConnection } from '../src/transport/connections.ts'
import { SessionCredentials } from '../src/transport/secure-session.ts'
import { TcpTransport } from '../src/transport/tcp.ts'
import type { DemoContext } from './index.ts'

function node(name: string): ConnectionManager {
  const identity = Identity.create({
    classifier: name,
    random: systemRandom,
    now: systemClock.now(),
  })
  return new ConnectionManager({
    credentials: new SessionCredentials(identity, systemRandom),
    context: 'demo:chat',
    streams: new TcpTransport(),
    clock: systemClock,
    random: systemRandom,
  })
}

export async function transportDemo(demo: DemoContext): Promise<void> {
  const alice = node('alice')
  const bob = node('bob')
  const carol = node('carol')
  try {
    demo.step('Bob listens on 127.0.0.1; Alice dials him over TCP and Noise XX')
    const address = await bob.listen({ host: '127.0.0.1', port: 0 })
    demo.say('Bob listens on', `${address.address}:${address.port}`)
    const heard = new Promise<string>((resolve) =>
      bob.on('connected', (c: PeerConnection) =>
        c.mux.on('channel', (channel) =>
          channel.on('message', (m) => {
            resolve(`${new TextDecoder().decode(m)}  (on channel "${channel.name}")`)
            channel.send(new TextEncoder().encode('hello Alice')).catch(() => {})
          }),
        ),
      ),
    )
    const connection = await alice.connect(address, { peerName: bob.ownPeerName })
    demo.say('Alice reached', `${connection.remote.peerName} (identity verified in the handshake)`)
    const chat = connection.mux.open('chat')
    const reply = new Promise<string>((resolve) =>
      chat.on('message', (m) => resolve(new TextDecoder().decode(m))),
    )
    await chat.send(new TextEncoder().encode('hello Bob'))
    demo.say('Bob received', await heard)
    demo.say('Alice received', await reply)
    const again = await alice.connect(address)
    demo.say(
      'dialled again',
      again === connection ? 'the same connection (one per peer)' : pc.red('a second connection'),
    )

    demo.step('Carol dials Bob but insists on reaching Alice')
    try {
      await carol.connect(address, { peerName: alice.ownPeerName })
      throw new Error('expected a refusal')
    } catch (err) {
      if (!(err instanceof PeerError)) throw err
      demo.say('refused', `${pc.red(err.code)}: ${err.message}`)
    }
  } finally {
    await Promise.all([alice.stop(), bob.stop(), carol.stop()])
  }
}
