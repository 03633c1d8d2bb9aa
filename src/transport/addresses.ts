/**
 * Addresses of the real-socket transports (tcp.ts, udp.ts): IP literals only (v4, or v6 without
 * brackets, as Node reports them); names are refused, so no DNS lookup ever happens behind the
 * caller's back.
 */
import net from 'node:net'
import { networkInterfaces } from 'node:os'

import { PeerError } from '../core/errors.ts'
import { DEFAULT_LISTEN_HOST } from './constants.ts'
import type { Address } from './types.ts'

/** `1.2.3.4:5` or `[::1]:5`, for messages. */
export function formatAddress(a: Address): string {
  return net.isIPv6(a.address) ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`
}

/**
 * Refuses anything but an IP literal and a port in range (1..65535, or 0 where allowed) with
 * PEER_E_INVALID_ADDRESS.
 */
export function checkAddress(
  address: unknown,
  port: unknown,
  what: string,
  allowPortZero: boolean,
): void {
  if (typeof address !== 'string' || net.isIP(address) === 0) {
    throw new PeerError(
      'PEER_E_INVALID_ADDRESS',
      `${what}: '${String(address)}' is not an IPv4 or IPv6 address; pass an IP literal ` +
        `(host names are not resolved here)`,
      { details: { address } },
    )
  }
  const min = allowPortZero ? 0 : 1
  if (typeof port !== 'number' || !Number.isInteger(port) || port < min || port > 65_535) {
    throw new PeerError(
      'PEER_E_INVALID_ADDRESS',
      `${what}: port ${String(port)} is out of range; use an integer from ${min} to 65535`,
      { details: { port } },
    )
  }
}

/**
 * Where to listen or bind: `host` (default DEFAULT_LISTEN_HOST; '0.0.0.0' or '::' for all
 * interfaces) and `port` (default 0: any free port), checked with checkAddress.
 */
export function listenAddress(options: { host?: string; port?: number }, what: string): Address {
  const address = options.host ?? DEFAULT_LISTEN_HOST
  const port = options.port ?? 0
  checkAddress(address, port, what, true)
  return { address, port }
}

/** An address any interface would answer to, rather than one interface's. */
export function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::'
}

/**
 * The machine's addresses peers can reach: global-scope addresses (IPv4 that is not loopback,
 * IPv6 that is neither loopback nor link-local; IPv4 only for `ipv4`) of every interface that
 * is up; loopback when there are none, so a machine without a network still reaches itself.
 */
export function machineAddresses(family: 'ipv4' | 'any' = 'any'): string[] {
  const found: string[] = []
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) {
      if (info.internal) continue
      if (info.family === 'IPv6') {
        if (family === 'ipv4' || info.address.toLowerCase().startsWith('fe80')) continue
      }
      found.push(info.address)
    }
  }
  return found.length > 0 ? found : ['127.0.0.1']
}

/**
 * Where peers reach a listener bound to `bound`: that address, or for a wildcard the machine's
 * addresses (IPv4 ones for 0.0.0.0, every family for ::), each with the bound port.
 */
export function reachableAddresses(bound: Address): Address[] {
  if (!isWildcard(bound.address)) return [{ ...bound }]
  const family = bound.address === '0.0.0.0' ? 'ipv4' : 'any'
  return machineAddresses(family).map((address) => ({ address, port: bound.port }))
}
