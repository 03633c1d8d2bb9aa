/** Link models: how a simulated link delays, loses and duplicates what crosses it. */
import { PeerError } from '../core/errors.ts'

export interface LinkModel {
  /** One-way delay, ms. */
  latencyMs: number
  /** Uniform extra delay in [0, jitterMs), ms; drawn per message, so datagrams may reorder. */
  jitterMs: number
  /** Probability (0..1) that a datagram is lost. Streams are reliable and never lose. */
  loss: number
  /** Serialisation rate of the link (each direction); undefined: unlimited. */
  bandwidthBytesPerSec?: number | undefined
  /** Probability (0..1) that a datagram is delivered twice. */
  duplicate?: number | undefined
}

/** A checked LinkModel, every field present (bandwidth 0: unlimited). */
export interface ResolvedLink {
  readonly latencyMs: number
  readonly jitterMs: number
  readonly loss: number
  readonly duplicate: number
  /** Bytes per ms; 0 for unlimited. */
  readonly bytesPerMs: number
}

/** The link every pair of nodes has unless told otherwise: 10 ms, no jitter, no loss. */
export const DEFAULT_LINK: Readonly<LinkModel> = Object.freeze({
  latencyMs: 10,
  jitterMs: 0,
  loss: 0,
})

function bad(field: string, value: unknown, want: string): PeerError {
  return new PeerError('E_INVALIDARG', `link ${field} must be ${want}, got ${String(value)}`, {
    details: { field, value },
  })
}

function nonNegative(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw bad(field, value, 'a finite number >= 0')
  }
  return value
}

function probability(field: string, value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw bad(field, value, 'a probability from 0 to 1')
  }
  return value
}

/** Checks a LinkModel (E_INVALIDARG on any bad field) and fills in its defaults. */
export function resolveLink(model: LinkModel): ResolvedLink {
  if (typeof model !== 'object' || model === null) throw bad('model', model, 'an object')
  const bandwidth = model.bandwidthBytesPerSec
  if (
    bandwidth !== undefined &&
    (typeof bandwidth !== 'number' || !Number.isFinite(bandwidth) || bandwidth <= 0)
  ) {
    throw bad('bandwidthBytesPerSec', bandwidth, 'a finite number > 0 (or undefined: unlimited)')
  }
  return Object.freeze({
    latencyMs: nonNegative('latencyMs', model.latencyMs),
    jitterMs: nonNegative('jitterMs', model.jitterMs),
    loss: probability('loss', model.loss),
    duplicate: probability('duplicate', model.duplicate ?? 0),
    bytesPerMs: bandwidth === undefined ? 0 : bandwidth / 1000,
  })
}
