/**
 * The names this node has registered in one cloud, each with its signing key, and the CPA it
 * hands out: re-signed with the resolver's nonce for every INQUIRE that asks for it (MS-PNRP
 * 1.6: the nonce proves the CPA is fresh, so a recorded one cannot be replayed).
 */
import { PeerError } from '../core/errors.ts'
import type { KeyPair } from '../identity/keys.ts'
import { CPA_LIFETIME_MS, MAX_LOCAL_IDS } from './constants.ts'
import { Cpa, ZERO_NONCE, type CpaFields } from './cpa.ts'
import { p2pIdOf, pnrpIdOf, type PnrpId } from './ids.ts'
import type { Endpoint } from './types.ts'

/** What a registration publishes (the CPA's fields that its owner chooses). */
export interface RegistrationFields {
  peerName: string
  serviceLocation: Uint8Array
  endpoints: Endpoint[]
  payload: Uint8Array
  comment: string
}

export interface LocalRegistration extends RegistrationFields {
  readonly id: PnrpId
  readonly key: KeyPair
  /** Internal registrations (the node's own ID) are never returned to applications. */
  readonly internal: boolean
}

export class Registrations {
  private readonly byId = new Map<PnrpId, LocalRegistration>()

  get size(): number {
    return this.byId.size
  }

  get(id: PnrpId): LocalRegistration | undefined {
    return this.byId.get(id)
  }

  has(id: PnrpId): boolean {
    return this.byId.has(id)
  }

  all(): LocalRegistration[] {
    return [...this.byId.values()]
  }

  /** Adds a registration; its CPA fields are checked by signing one now (E_INVALIDARG). */
  add(fields: RegistrationFields, key: KeyPair, now: number, internal = false): LocalRegistration {
    if (this.byId.size >= MAX_LOCAL_IDS) {
      throw new PeerError(
        'PEER_E_TOO_MUCH_LOAD',
        `a node holds at most ${MAX_LOCAL_IDS} registrations per cloud (MAX_LOCAL_IDS)`,
      )
    }
    const id = pnrpIdOf(p2pIdOf(fields.peerName), fields.serviceLocation)
    if (this.byId.has(id)) {
      throw new PeerError(
        'PEER_E_ALREADY_EXISTS',
        `${fields.peerName} is already registered here with this service location; use update`,
      )
    }
    const registration: LocalRegistration = { ...fields, id, key, internal }
    this.sign(registration, ZERO_NONCE, now, false)
    this.byId.set(id, registration)
    return registration
  }

  /**
   * Checks that update(id, fields) would succeed, changing nothing: PEER_E_NOT_FOUND for an
   * unknown ID, E_INVALIDARG (naming the limit) for fields a CPA cannot carry. Lets a caller
   * check the updates of several registrations before it applies any.
   */
  check(
    id: PnrpId,
    fields: Partial<Omit<RegistrationFields, 'peerName' | 'serviceLocation'>>,
    now = 0,
  ): void {
    const current = this.byId.get(id)
    if (!current) throw new PeerError('PEER_E_NOT_FOUND', 'no such registration here')
    this.sign({ ...current, ...fields }, ZERO_NONCE, now, false)
  }

  /** Replaces the published fields of a registration (its name and location stay). */
  update(
    id: PnrpId,
    fields: Partial<Omit<RegistrationFields, 'peerName' | 'serviceLocation'>>,
    now: number,
  ): LocalRegistration {
    const current = this.byId.get(id)
    if (!current) throw new PeerError('PEER_E_NOT_FOUND', 'no such registration here')
    const next: LocalRegistration = { ...current, ...fields }
    this.sign(next, ZERO_NONCE, now, false)
    this.byId.set(id, next)
    return next
  }

  remove(id: PnrpId): LocalRegistration | undefined {
    const registration = this.byId.get(id)
    this.byId.delete(id)
    return registration
  }

  /** The registration's CPA, signed now with `nonce` (an INQUIRE's), or its revocation. */
  sign(registration: LocalRegistration, nonce: Uint8Array, now: number, revoke: boolean): Cpa {
    const fields: CpaFields = {
      peerName: registration.peerName,
      serviceLocation: registration.serviceLocation,
      endpoints: registration.endpoints,
      payload: registration.payload,
      comment: registration.comment,
      notAfter: now + CPA_LIFETIME_MS,
      nonce,
      revoke,
    }
    return Cpa.sign(fields, registration.key)
  }
}
