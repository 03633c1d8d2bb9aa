/**
 * Our secure channel (Noise XX + identity binding, over TCP) against node:tls (TLS 1.3, mutual
 * authentication with Ed25519 certificates) between the same two processes on 127.0.0.1.
 * A child process serves both; this process dials both, alternating round by round so machine
 * noise hits both alike, after one unrecorded warm-up round of each (the JIT). Prints
 * handshakes/s and bulk MB/s, and ratios ours/TLS. TLS handshakes are measured twice: as
 * `tls.connect(options)` does by default (a new SecureContext, keys parsed, per connection) and
 * with one SecureContext shared by every connection, the fair baseline.
 *
 *   npm run bench:transport [-- --rounds 3 --handshakes 1000 --concurrency 8 --mib 256]
 */
import { fork, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
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
import { Mux } from '../src/transport/mux.ts'
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
      .then((session) => {
        const mux = new Mux(session)
        mux.on('channel', (channel) => {
          let expected = -1
          let received = 0
          channel.on('message', (m) => {
            if (expected < 0)
              expected = new DataView(m.buffer, m.byteOffset).getUint32(0) * 1024 * 1024
            else received += m.length
            if (received === expected) channel.send(new Uint8Array([1])).catch(() => {})
          })
        })
      })
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
    (socket) => {
      let expected = -1
      let received = 0
      socket.on('data', (chunk: Buffer) => {
        if (expected < 0) {
          expected = chunk.readUInt32BE(0) * 1024 * 1024
          chunk = chunk.subarray(4)
        }
        received += chunk.length
        if (received === expected) socket.write(Buffer.from([1]))
      })
      socket.on('error', () => {})
    },
  )
  await new Promise<void>((resolve) => tls.listen(0, HOST, resolve))
  const tlsPort = (tls.address() as { port: number }).port
  process.send?.({ ours: ours.address.port, tls: tlsPort })
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

async function tlsBulk(port: number, mib: number): Promise<number> {
  const socket = await tlsHandshake(port)
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

async function oursBulk(
  tcp: TcpTransport,
  creds: SessionCredentials,
  port: number,
  mib: number,
): Promise<number> {
  const session = await oursHandshake(tcp, creds, port)
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
  const rounds = Number(values.rounds)
  const handshakes = Number(values.handshakes)
  const mib = Number(values.mib)
  const concurrency = Number(values.concurrency)

  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--server'], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const ports = await new Promise<{ ours: number; tls: number }>((resolve) =>
    child.once('message', resolve as never),
  )
  const creds = credentials('client')
  const tcp = new TcpTransport()
  const sharedContext = createSecureContext(tlsClientOptions)
  const results = {
    hsOurs: [] as number[],
    hsTls: [] as number[],
    hsTlsShared: [] as number[],
    bulkOurs: [] as number[],
    bulkTls: [] as number[],
  }
  try {
    // Round -1 warms the JIT up for both and is not recorded.
    for (let r = -1; r < rounds; r++) {
      const ours = async (): Promise<void> => {
        results.hsOurs.push(
          await rate(handshakes, concurrency, async () =>
            (await oursHandshake(tcp, creds, ports.ours)).close(),
          ),
        )
        results.bulkOurs.push(await oursBulk(tcp, creds, ports.ours, mib))
      }
      const tls = async (): Promise<void> => {
        results.hsTls.push(
          await rate(
            handshakes,
            concurrency,
            async () => void (await tlsHandshake(ports.tls)).destroy(),
          ),
        )
        results.hsTlsShared.push(
          await rate(
            handshakes,
            concurrency,
            async () => void (await tlsHandshake(ports.tls, sharedContext)).destroy(),
          ),
        )
        results.bulkTls.push(await tlsBulk(ports.tls, mib))
      }
      if (r < 0) {
        await ours()
        await tls()
        for (const list of Object.values(results)) list.length = 0
      } else if (r % 2 === 0) {
        await ours()
        await tls()
      } else {
        await tls()
        await ours()
      }
    }
  } finally {
    child.disconnect()
  }
  const f = (n: number): string => n.toFixed(0).padStart(7)
  console.log(
    `127.0.0.1, two processes, ${rounds} rounds (medians); handshakes ${concurrency} at a time, ${mib} MiB bulk`,
  )
  const ratio = (a: number[], b: number[]): string => (median(a) / median(b)).toFixed(2)
  console.log(
    `  handshakes/s  peerinfra ${f(median(results.hsOurs))}   TLS 1.3 ${f(median(results.hsTls))}   ratio ${ratio(results.hsOurs, results.hsTls)}   (TLS context per connection)`,
  )
  console.log(
    `  handshakes/s  peerinfra ${f(median(results.hsOurs))}   TLS 1.3 ${f(median(results.hsTlsShared))}   ratio ${ratio(results.hsOurs, results.hsTlsShared)}   (TLS context shared)`,
  )
  console.log(
    `  bulk MB/s     peerinfra ${f(median(results.bulkOurs))}   TLS 1.3 ${f(median(results.bulkTls))}   ratio ${ratio(results.bulkOurs, results.bulkTls)}`,
  )
}

await main()
