/**
 * Endpoints as users write them (`host:port`, `[v6]:port`), the machine's own addresses for
 * automatic registration, and address-derived service locations (MS-PNRP 1.2: the service
 * location is built from the registrant's address, so registrations on nearby addresses get
 * nearby IDs and a "nearest" resolve finds them first).
 */
import net from 'node:net'
import { PeerError } from '../core/errors.ts'
import type { Random } from '../core/random.ts'
import { isWildcard } from '../transport/addresses.ts'
import { MAX_ADDRESS_LENGTH, MIN_PNRP_PORT, SERVICE_LOCATION_BYTES } from './constants.ts'
import type { Endpoint } from './types.ts'

/** Bytes of a service location taken from the address prefix; then 2 of port, then random. */
const LOCATION_PREFIX_BYTES = 8

/** `1.2.3.4:5`, `[::1]:5` (or `node:5` in the simulator). */
export function formatEndpoint(e: Endpoint): string {
  return net.isIPv6(e.address) ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`
}

/**
 * Parses `host:port` or `[v6]:port`; PEER_E_INVALID_ADDRESS otherwise. Names are not looked
 * up: the host must be an IP literal, or (for the simulator) a plain node name.
 */
export function parseEndpoint(text: string, defaultPort?: number): Endpoint {
  const bad = (why: string): PeerError =>
    new PeerError('PEER_E_INVALID_ADDRESS', `"${text.slice(0, 80)}" is not host:port: ${why}`)
  if (typeof text !== 'string' || text.length === 0 || text.length > MAX_ADDRESS_LENGTH + 8) {
    throw bad('expected text such as 127.0.0.1:3540 or [::1]:3540')
  }
  let host: string
  let portText: string | undefined
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text)
  if (bracketed) {
    host = bracketed[1] as string
    portText = bracketed[2]
  } else if (net.isIPv6(text)) {
    host = text
  } else {
    const colon = text.lastIndexOf(':')
    host = colon < 0 ? text : text.slice(0, colon)
    portText = colon < 0 ? undefined : text.slice(colon + 1)
  }
  if (!/^[0-9A-Za-z.:%_-]+$/.test(host)) throw bad('the host must be an IP address')
  if (portText === undefined) {
    if (defaultPort === undefined) throw bad('the port is missing')
    return { address: host, port: defaultPort }
  }
  const port = Number(portText)
  if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65_535) {
    throw bad('the port must be 1 to 65535')
  }
  return { address: host, port }
}

/**
 * Whether a route entry's endpoint may be contacted: a port above the well-known range and a
 * unicast address (not unspecified, broadcast or multicast), so forged entries cannot turn a
 * node into a reflector aimed at services or at a whole network.
 */
export function isRoutable(e: Endpoint): boolean {
  if (e.port < MIN_PNRP_PORT) return false
  const a = e.address.toLowerCase()
  if (isWildcard(a) || a === '255.255.255.255') return false
  if (net.isIPv4(a)) {
    const first = Number(a.split('.')[0])
    return first < 224 && first !== 0
  }
  if (net.isIPv6(a)) return !a.startsWith('ff')
  return true
}

/**
 * A service location for a registration at `endpoint`: the address prefix (an IPv6 /64, or
 * the IPv4 address), the port, then random bytes so two registrations never share an ID.
 */
export function serviceLocationFor(endpoint: Endpoint | undefined, random: Random): Uint8Array {
  const location = random.bytes(SERVICE_LOCATION_BYTES)
  if (!endpoint) return location
  location.set(addressPrefix(endpoint.address), 0)
  location[LOCATION_PREFIX_BYTES] = endpoint.port >> 8
  location[LOCATION_PREFIX_BYTES + 1] = endpoint.port & 0xff
  return location
}

/** The service location a "nearest" resolve aims at: the hint's prefix, port and zeros. */
export function nearestLocation(hint: Endpoint): Uint8Array {
  const location = new Uint8Array(SERVICE_LOCATION_BYTES)
  location.set(addressPrefix(hint.address), 0)
  location[LOCATION_PREFIX_BYTES] = hint.port >> 8
  location[LOCATION_PREFIX_BYTES + 1] = hint.port & 0xff
  return location
}

/** 8 bytes that order addresses by network: IPv6's /64, or 0xffff then the IPv4 address. */
function addressPrefix(address: string): Uint8Array {
  const prefix = new Uint8Array(LOCATION_PREFIX_BYTES)
  if (net.isIPv4(address)) {
    prefix[0] = 0xff
    prefix[1] = 0xff
    address.split('.').forEach((part, i) => (prefix[2 + i] = Number(part)))
    return prefix
  }
  if (net.isIPv6(address)) {
    const groups = expandIpv6(address.split('%')[0] as string)
    for (let i = 0; i < 4; i++) {
      prefix[2 * i] = (groups[i] as number) >> 8
      prefix[2 * i + 1] = (groups[i] as number) & 0xff
    }
    return prefix
  }
  // A simulator node name: a stable hash-free spread by its characters.
  for (let i = 0; i < address.length; i++) {
    const at = i % LOCATION_PREFIX_BYTES
    prefix[at] = ((prefix[at] as number) * 31 + address.charCodeAt(i)) & 0xff
  }
  return prefix
}

/** The eight 16-bit groups of an IPv6 literal (with `::` and a trailing IPv4 part). */
function expandIpv6(address: string): number[] {
  let text = address
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (v4) {
    const b = (v4[1] as string).split('.').map(Number) as [number, number, number, number]
    const hex = (n: number): string => n.toString(16)
    text =
      text.slice(0, -(v4[1] as string).length) +
      `${hex((b[0] << 8) | b[1])}:${hex((b[2] << 8) | b[3])}`
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined]
  const left = head ? head.split(':').filter((g) => g !== '') : []
  const right = tail ? tail.split(':').filter((g) => g !== '') : []
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
  return groups.map((g) => parseInt(g, 16))
}
