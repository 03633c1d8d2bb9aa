/**
 * Our secure channel (Noise XX + identity binding, over TCP) against node:tls (TLS 1.3, mutual
 * authentication with Ed25519 certificates) between the same two processes on 127.0.0.1.
 * A child process serves both; this process dials both, alternating round by round so machine
 * noise hits both alike, after one unrecorded warm-up round of each (the JIT). Prints
 * handshakes/s and bulk MB/s, and ratios ours/TLS. TLS handshakes are measured twice: as
 * `tls.connect(options)` does by default (a new SecureContext, keys parsed, per connection) and
 * with one SecureContext shared by every connection, the fair baseline.
 *
 * Two ceilings are measured the same way, for what no protocol over a net.Socket can beat:
 * plain TCP with no security at all (connections opened and closed per second, and bulk MB/s),
 * and the cost of one X25519 operation in this process (Noise XX needs four per side).
 *
 *   npm run bench:transport [-- --rounds 3 --handshakes 1000 --concurrency 8 --mib 256]
 */
import { fork, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import {
  connect as netConnect,
  createServer as netServer,
  type Server as NetServer,
  type Socket,
} from 'node:net'
import {
  connect as tlsConnect,
  createSecureContext,
  createServer as tlsServer,
  type SecureContext,
  type TLSSocket,
} from 'node:tls'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { systemClock } from '../src/core/clock.ts'
import { systemRandom } from '../src/core/random.ts'
import { Identity } from '../src/identity/identity.ts'
import { createDuplexPair } from '../src/transport/memory-pipe.ts'
import { Mux } from '../src/transport/mux.ts'
import { dh, x25519KeyPair } from '../src/transport/noise/crypto.ts'
import { SecureSession, SessionCredentials } from '../src/transport/secure-session.ts'
import { TcpTransport } from '../src/transport/tcp.ts'

const fixture = (name: string): Buffer =>
  readFileSync(fileURLToPath(new URL(`fixtures/${name}`, import.meta.url)))
const CONTEXT = 'bench:transport'
const HOST = '127.0.0.1'

function credentials(name: string): SessionCredentials {
  return new SessionCredentials(
    Identity.create({ classifier: name, random: systemRandom, now: systemClock.now() }),
    systemRandom,
  )
}

// ---- the server (child process) ---------------------------------------------------------
type Contender = 'ours' | 'tls' | 'tcp'

/** The receiver's CPU time (user + system) over one bulk transfer, sent to the parent. */
function receiverCpu(kind: Contender): (mib: number) => void {
  const start = process.cpuUsage()
  return (mib) => {
    const used = process.cpuUsage(start)
    process.send?.({ receiverCpu: kind, msPerMiB: (used.user + used.system) / 1000 / mib })
  }
}

/** TLS and plain TCP bulk: a 4-byte count of MiB, then that many bytes, acknowledged by 1 byte. */
function countAndAcknowledge(kind: Contender): (socket: Socket) => void {
  return (socket) => {
    let expected = -1
    let received = 0
    let done: (mib: number) => void = () => {}
    socket.on('data', (chunk: Buffer) => {
      if (expected < 0) {
        done = receiverCpu(kind)
        expected = chunk.readUInt32BE(0) * 1024 * 1024
        chunk = chunk.subarray(4)
      }
      received += chunk.length
      if (received === expected) {
        done(expected / 1024 / 1024)
        socket.write(Buffer.from([1]))
      }
    })
    socket.on('error', () => {})
  }
}

/** Our bulk: on each channel a 4-byte count of MiB, then that many bytes, acknowledged. */
function acknowledgeChannels(session: SecureSession): void {
  new Mux(session).on('channel', (channel) => {
    let expected = -1
    let received = 0
    let done: (mib: number) => void = () => {}
    channel.on('message', (m) => {
      if (expected < 0) {
        done = receiverCpu('ours')
        expected = new DataView(m.buffer, m.byteOffset).getUint32(0) * 1024 * 1024
      } else received += m.length
      if (received === expected) {
        done(expected / 1024 / 1024)
        channel.send(new Uint8Array([1])).catch(() => {})
      }
    })
  })
}

async function serve(): Promise<void> {
  const creds = credentials('server')
  const tcp = new TcpTransport()
  const ours = await tcp.listen({ host: HOST, port: 0 }, (duplex) => {
    SecureSession.respond(duplex, {
      credentials: creds,
      context: CONTEXT,
      clock: systemClock,
      random: systemRandom,
    })
      .then(acknowledgeChannels)
      .catch(() => {})
  })
  const tls = tlsServer(
    {
      key: fixture('server-key.pem'),
      cert: fixture('server-cert.pem'),
      ca: fixture('client-cert.pem'),
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
    },
    countAndAcknowledge('tls'),
  )
  const plain = netServer(countAndAcknowledge('tcp'))
  const port = async (server: NetServer): Promise<number> => {
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve))
    return (server.address() as { port: number }).port
  }
  process.send?.({ ours: ours.address.port, tls: await port(tls), tcp: await port(plain) })
  // The parent asks for this process's CPU time around each handshake phase.
  process.on('message', (m: { cpu?: boolean }) => {
    if (!m.cpu) return
    const used = process.cpuUsage()
    process.send?.({ cpuUsed: used.user + used.system })
  })
  process.on('disconnect', () => process.exit(0))
}

// ---- the client (this process) ----------------------------------------------------------
const tlsClientOptions = {
  host: HOST,
  key: fixture('client-key.pem'),
  cert: fixture('client-cert.pem'),
  ca: fixture('server-cert.pem'),
  minVersion: 'TLSv1.3' as const,
}

/** With `context`, the connection reuses it; without, tls.connect builds one from the options. */
function tlsHandshake(port: number, context?: SecureContext): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const options = context
      ? { host: HOST, port, secureContext: context, minVersion: 'TLSv1.3' as const }
      : { ...tlsClientOptions, port }
    const socket = tlsConnect(options, () => resolve(socket))
    socket.on('error', reject)
  })
}

async function oursHandshake(
  tcp: TcpTransport,
  creds: SessionCredentials,
  port: number,
): Promise<SecureSession> {
  const duplex = await tcp.dial({ address: HOST, port })
  return SecureSession.initiate(duplex, {
    credentials: creds,
    context: CONTEXT,
    clock: systemClock,
    random: systemRandom,
  })
}

/** Runs `count` handshakes, `concurrency` at a time; returns handshakes per second. */
async function rate(count: number, concurrency: number, one: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint()
  let started = 0
  const worker = async (): Promise<void> => {
    while (started < count) {
      started++
      await one()
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return count / (Number(process.hrtime.bigint() - start) / 1e9)
}

/** A plain TCP connection, as the ceiling for every protocol over one. */
function tcpConnect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: HOST, port, noDelay: true }, () => resolve(socket))
    socket.on('error', reject)
  })
}

async function tlsBulk(port: number, mib: number): Promise<number> {
  return socketBulk(await tlsHandshake(port), mib)
}

/** `mib` MiB in 64 KiB writes to a countAndAcknowledge server; MB/s until it acknowledges. */
async function socketBulk(socket: Socket, mib: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 7)
  const start = process.hrtime.bigint()
  const done = new Promise<void>((resolve) => socket.once('data', () => resolve()))
  const header = Buffer.alloc(4)
  header.writeUInt32BE(mib)
  socket.write(header)
  for (let sent = 0; sent < mib * 1024 * 1024; sent += chunk.length) {
    if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve))
  }
  await done
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  socket.destroy()
  return mib / seconds
}

/** `mib` MiB in 256 KiB channel messages to acknowledgeChannels; MB/s until it acknowledges. */
async function channelBulk(session: SecureSession, mib: number): Promise<number> {
  const mux = new Mux(session)
  const channel = mux.open('bulk')
  const message = new Uint8Array(256 * 1024).fill(7)
  const start = process.hrtime.bigint()
  const done = new Promise<void>((resolve) => channel.on('message', () => resolve()))
  const header = new Uint8Array(4)
  new DataView(header.buffer).setUint32(0, mib)
  await channel.send(header)
  for (let sent = 0; sent < mib * 1024 * 1024; sent += message.length) await channel.send(message)
  await done
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  mux.close()
  return mib / seconds
}

// ---- in this process, no sockets: what our own code costs ---------------------------------
const pipeOptions = (credentials: SessionCredentials) => ({
  credentials,
  context: CONTEXT,
  clock: systemClock,
  random: systemRandom,
})

/** Both sides of a handshake over an in-memory pipe. */
function pipeSessions(a: SessionCredentials, b: SessionCredentials): Promise<SecureSession[]> {
  const [x, y] = createDuplexPair()
  return Promise.all([
    SecureSession.initiate(x, pipeOptions(a)),
    SecureSession.respond(y, pipeOptions(b)),
  ])
}

/** Handshakes per second with both sides in this process (one core, no sockets). */
async function inProcessHandshakes(count: number): Promise<number> {
  const a = credentials('a')
  const b = credentials('b')
  return rate(count, 1, async () => {
    for (const session of await pipeSessions(a, b)) session.close()
  })
}

/** Bulk MB/s with both sides in this process (one core, no sockets). */
async function inProcessBulk(mib: number): Promise<number> {
  const [initiator, responder] = (await pipeSessions(credentials('a'), credentials('b'))) as [
    SecureSession,
    SecureSession,
  ]
  acknowledgeChannels(responder)
  return channelBulk(initiator, mib)
}

/** CPU (user + system) of one TCP connection opened and closed, both ends in this process. */
async function inProcessTcpMicros(count: number, concurrency: number): Promise<number> {
  let open = 0
  const server = netServer((socket) => {
    open++
    socket.on('error', () => {})
    socket.on('close', () => open--)
    socket.resume()
  })
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve))
  const { port } = server.address() as { port: number }
  const start = process.cpuUsage()
  await rate(count, concurrency, async () => void (await tcpConnect(port)).destroy())
  // The server's side closes a moment later; its work counts too.
  while (open > 0) await new Promise((resolve) => setImmediate(resolve))
  const used = process.cpuUsage(start)
  await new Promise((resolve) => server.close(resolve))
  return (used.user + used.system) / count
}

/** Microseconds per X25519 operation here (a key generation and a DH, averaged). */
function x25519Micros(count: number): number {
  const peer = x25519KeyPair(systemRandom)
  const start = process.hrtime.bigint()
  for (let i = 0; i < count; i++) dh(x25519KeyPair(systemRandom), peer.publicKey)
  return Number(process.hrtime.bigint() - start) / 1e3 / (2 * count)
}

const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      server: { type: 'boolean', default: false },
      rounds: { type: 'string', default: '3' },
      handshakes: { type: 'string', default: '1000' },
      mib: { type: 'string', default: '256' },
      concurrency: { type: 'string', default: '8' },
    },
  })
  if (values.server) return serve()
  const positive = (name: string, text: string | undefined): number => {
    const n = Number(text)
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number >= 1`)
    return n
  }
  const rounds = positive('rounds', values.rounds)
  const handshakes = positive('handshakes', values.handshakes)
  const mib = positive('mib', values.mib)
  const concurrency = positive('concurrency', values.concurrency)

  const childProcess: ChildProcess = fork(fileURLToPath(import.meta.url), ['--server'], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const ports = await new Promise<{ ours: number; tls: number; tcp: number }>((resolve) =>
    childProcess.once('message', resolve as never),
  )
  // What the child's receivers report, in order; the warm-up round's first entry is dropped.
  const receiverMs: Record<Contender, number[]> = { ours: [], tls: [], tcp: [] }
  let cpuAnswer: ((micros: number) => void) | undefined
  childProcess.on(
    'message',
    (m: { receiverCpu?: Contender; msPerMiB: number; cpuUsed?: number }) => {
      if (m.receiverCpu) receiverMs[m.receiverCpu].push(m.msPerMiB)
      if (m.cpuUsed !== undefined) cpuAnswer?.(m.cpuUsed)
    },
  )
  /** CPU time (user + system, us) both processes have used so far. */
  const cpuOfBoth = async (): Promise<number> => {
    const child = await new Promise<number>((resolve) => {
      cpuAnswer = resolve
      childProcess.send({ cpu: true })
    })
    const own = process.cpuUsage()
    return child + own.user + own.system
  }
  /** Handshakes per second, and the CPU of both processes per handshake. */
  const handshakeRate = async (
    rates: number[],
    cpu: number[],
    one: () => Promise<void>,
  ): Promise<void> => {
    const before = await cpuOfBoth()
    rates.push(await rate(handshakes, concurrency, one))
    cpu.push(((await cpuOfBoth()) - before) / handshakes)
  }
  const creds = credentials('client')
  const tcp = new TcpTransport()
  const sharedContext = createSecureContext(tlsClientOptions)
  const results = {
    hsOurs: [] as number[],
    hsTls: [] as number[],
    hsTlsShared: [] as number[],
    hsTcp: [] as number[],
    cpuOurs: [] as number[],
    cpuTlsShared: [] as number[],
    cpuTcp: [] as number[],
    bulkOurs: [] as number[],
    bulkTls: [] as number[],
    bulkTcp: [] as number[],
  }
  const contenders = [
    async (): Promise<void> => {
      await handshakeRate(results.hsOurs, results.cpuOurs, async () =>
        (await oursHandshake(tcp, creds, ports.ours)).close(),
      )
      results.bulkOurs.push(await channelBulk(await oursHandshake(tcp, creds, ports.ours), mib))
    },
    async (): Promise<void> => {
      results.hsTls.push(
        await rate(
          handshakes,
          concurrency,
          async () => void (await tlsHandshake(ports.tls)).destroy(),
        ),
      )
      await handshakeRate(
        results.hsTlsShared,
        results.cpuTlsShared,
        async () => void (await tlsHandshake(ports.tls, sharedContext)).destroy(),
      )
      results.bulkTls.push(await tlsBulk(ports.tls, mib))
    },
    async (): Promise<void> => {
      await handshakeRate(
        results.hsTcp,
        results.cpuTcp,
        async () => void (await tcpConnect(ports.tcp)).destroy(),
      )
      results.bulkTcp.push(await socketBulk(await tcpConnect(ports.tcp), mib))
    },
  ]
  try {
    // Round -1 warms the JIT up for all and is not recorded; then each round starts with the
    // next contender, so machine noise does not always fall on the same one.
    for (let r = -1; r < rounds; r++) {
      const first = Math.max(0, r) % contenders.length
      for (let i = 0; i < contenders.length; i++) {
        await (contenders[(first + i) % contenders.length] as () => Promise<void>)()
      }
      if (r < 0) for (const list of Object.values(results)) list.length = 0
    }
    // The child reports a transfer's CPU just before it acknowledges it: wait for the last ones.
    const reported = (): boolean => Object.values(receiverMs).every((l) => l.length > rounds)
    for (let waited = 0; !reported() && waited < 5000; waited += 10) {
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  } finally {
    childProcess.disconnect()
  }
  // With the child gone: both sides of ours in this process, on one core, after a warm-up.
  const inProcess = { handshakes: [] as number[], bulk: [] as number[] }
  for (let r = -1; r < rounds; r++) {
    const handshakesPerSecond = await inProcessHandshakes(handshakes)
    const bulk = await inProcessBulk(mib)
    if (r < 0) continue
    inProcess.handshakes.push(handshakesPerSecond)
    inProcess.bulk.push(bulk)
  }
  const tcpMicros = await inProcessTcpMicros(handshakes, concurrency)
  const x25519 = x25519Micros(2000)
  const f = (n: number): string => n.toFixed(0).padStart(7)
  const m = (xs: number[]): string => f(median(xs))
  const ratio = (a: number[], b: number[]): string => (median(a) / median(b)).toFixed(2)
  console.log(
    `127.0.0.1, two processes, ${rounds} rounds (medians); handshakes ${concurrency} at a time, ${mib} MiB bulk`,
  )
  console.log(
    `  handshakes/s  peerinfra ${m(results.hsOurs)}   TLS 1.3 ${m(results.hsTls)}   ratio ${ratio(results.hsOurs, results.hsTls)}   (TLS context per connection)`,
  )
  console.log(
    `  handshakes/s  peerinfra ${m(results.hsOurs)}   TLS 1.3 ${m(results.hsTlsShared)}   ratio ${ratio(results.hsOurs, results.hsTlsShared)}   (TLS context shared)`,
  )
  console.log(
    `  bulk MB/s     peerinfra ${m(results.bulkOurs)}   TLS 1.3 ${m(results.bulkTls)}   ratio ${ratio(results.bulkOurs, results.bulkTls)}`,
  )
  console.log('ceilings: plain TCP, no security, between the same processes')
  console.log(
    `  connections/s TCP ${m(results.hsTcp)}   peerinfra ${ratio(results.hsOurs, results.hsTcp)} of it, TLS shared ${ratio(results.hsTlsShared, results.hsTcp)}`,
  )
  console.log(
    `  bulk MB/s     TCP ${m(results.bulkTcp)}   peerinfra ${ratio(results.bulkOurs, results.bulkTcp)} of it, TLS ${ratio(results.bulkTls, results.bulkTcp)}`,
  )
  console.log(
    `  CPU per handshake, both processes: peerinfra ${m(results.cpuOurs)} us   TLS shared ${m(results.cpuTlsShared)} us   TCP alone ${m(results.cpuTcp)} us`,
  )
  const cpu = (kind: Contender): string => median(receiverMs[kind].slice(1)).toFixed(2)
  console.log(
    `  receiver CPU, ms per MiB: peerinfra ${cpu('ours')}   TLS ${cpu('tls')}   TCP ${cpu('tcp')}   (user + system, in the child)`,
  )
  console.log('ours with both sides in this process, one core, no sockets (an in-memory pipe)')
  console.log(
    `  handshakes/s ${m(inProcess.handshakes)}   (${(1e6 / median(inProcess.handshakes)).toFixed(0)} us of CPU each, both sides)`,
  )
  console.log(`  bulk MB/s    ${m(inProcess.bulk)}   (sender and receiver sharing the core)`)
  console.log(
    `  a TCP connection opened and closed, both ends here: ${tcpMicros.toFixed(0)} us of CPU (user + system)`,
  )
  console.log(
    `  X25519: ${x25519.toFixed(1)} us per operation here; Noise XX does 8 per handshake (4 per side): ${(8 * x25519).toFixed(0)} us of CPU`,
  )
}

await main()
