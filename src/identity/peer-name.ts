/**
 * Peer names (DESIGN.md section 4, MS-PNRP 2.2.4): `authority.classifier`.
 * - Secured: the authority is 40 lowercase hex characters, derived from the owner's key;
 *   the classifier may be empty (`<authority>.`; as in .NET, `<authority>` alone parses too).
 * - Unsecured: the authority is `0` and anyone may use the name; a classifier is required.
 * - Classifier: 0 to 149 Unicode characters (code points), normalised to NFC, no NUL or
 *   control characters. Names are case-sensitive.
 * - Host-name form (PeerNameToPeerHostName): `classifier.authority.pnrp.net`, classifier labels
 *   punycoded where they are not plain letters/digits/hyphens, a `p` before an authority that
 *   starts with a digit, and no authority label at all for an unsecured name.
 */
import { PeerError } from '../core/errors.ts'
import {
  AUTHORITY_HEX_LENGTH,
  MAX_CLASSIFIER_LENGTH,
  MAX_DNS_LABEL_LENGTH,
  MAX_DNS_NAME_LENGTH,
  PNRP_HOST_SUFFIX,
  UNSECURED_AUTHORITY,
} from './constants.ts'
import { punycodeDecode, punycodeEncode } from './punycode.ts'
import { maxInputLength, normalizeName } from './text.ts'

const SECURED_AUTHORITY = /^[0-9a-f]{40}$/
// Longest text that could still be a valid name: authority, dot, the longest classifier input.
const MAX_NAME_UTF16 = AUTHORITY_HEX_LENGTH + 1 + maxInputLength(MAX_CLASSIFIER_LENGTH)

/** Something that has a peer name: an Identity, or anything carrying `peerName`. */
export interface HasPeerName {
  peerName: string
}

/** Checks a classifier and returns it in NFC; throws PEER_E_INVALID_CLASSIFIER / _TOO_LONG. */
export function normalizeClassifier(classifier: string): string {
  return normalizeName(classifier, {
    what: 'a classifier',
    max: MAX_CLASSIFIER_LENGTH,
    code: 'PEER_E_INVALID_CLASSIFIER',
    tooLongCode: 'PEER_E_CLASSIFIER_TOO_LONG',
  })
}

function invalidName(text: string, why: string): PeerError {
  return new PeerError(
    'PEER_E_INVALID_PEER_NAME',
    `"${text.slice(0, 60)}" is not a peer name: ${why}`,
  )
}

export class PeerName {
  /** `0` for an unsecured name, 40 lowercase hex characters for a secured one. */
  readonly authority: string
  /** NFC, 0..149 characters (never empty for an unsecured name). */
  readonly classifier: string

  private constructor(authority: string, classifier: string) {
    this.authority = authority
    this.classifier = classifier
  }

  get isSecured(): boolean {
    return this.authority !== UNSECURED_AUTHORITY
  }

  toString(): string {
    return `${this.authority}.${this.classifier}`
  }

  toJSON(): string {
    return this.toString()
  }

  /** Same name; false (not an error) when `other` is not a valid peer name. */
  equals(other: PeerName | string): boolean {
    if (other instanceof PeerName) return this.toString() === other.toString()
    try {
      return this.toString() === PeerName.parse(other).toString()
    } catch {
      return false
    }
  }

  /** Parses `authority.classifier`; throws PEER_E_INVALID_PEER_NAME (or a classifier error). */
  static parse(text: string | PeerName): PeerName {
    if (text instanceof PeerName) return text
    if (typeof text !== 'string')
      throw new PeerError('PEER_E_INVALID_PEER_NAME', 'a peer name must be a string')
    const dot = text.indexOf('.')
    const authority = dot < 0 ? text : text.slice(0, dot)
    const classifier = dot < 0 ? '' : text.slice(dot + 1)
    if (authority !== UNSECURED_AUTHORITY && !/^[0-9a-fA-F]{40}$/.test(authority)) {
      throw invalidName(
        text,
        dot < 0
          ? 'expected "authority.classifier"'
          : 'the authority must be "0" or 40 hex characters',
      )
    }
    if (text.length > MAX_NAME_UTF16) {
      throw new PeerError(
        'PEER_E_CLASSIFIER_TOO_LONG',
        `a peer name holds at most ${MAX_CLASSIFIER_LENGTH} classifier characters`,
      )
    }
    if (authority === UNSECURED_AUTHORITY) {
      if (dot < 0 || classifier === '') {
        throw invalidName(text, 'an unsecured name ("0.") needs a classifier')
      }
      return new PeerName(UNSECURED_AUTHORITY, normalizeClassifier(classifier))
    }
    if (SECURED_AUTHORITY.test(authority))
      return new PeerName(authority, normalizeClassifier(classifier))
    throw invalidName(text, 'the authority must be lowercase hex')
  }

  /** True when `text` parses as a peer name. */
  static isValid(text: string): boolean {
    try {
      PeerName.parse(text)
      return true
    } catch {
      return false
    }
  }

  /**
   * PeerCreatePeerName: an identity gives `<its authority>.<classifier>`, null gives the
   * unsecured `0.<classifier>`; a null classifier gives the identity's own name.
   */
  static create(identity: HasPeerName | string | null, classifier: string | null): PeerName {
    if (identity === null && classifier === null) {
      throw new PeerError(
        'E_INVALIDARG',
        'PeerName.create needs an identity, a classifier, or both',
      )
    }
    if (identity === null) return PeerName.parse(`${UNSECURED_AUTHORITY}.${classifier ?? ''}`)
    const own = PeerName.parse(typeof identity === 'string' ? identity : identity.peerName)
    if (classifier === null) return own
    if (!own.isSecured)
      throw new PeerError('E_INVALIDARG', 'an identity has a secured name, not an unsecured one')
    return new PeerName(own.authority, normalizeClassifier(classifier))
  }

  /** `authority` ∈ {"0", 40 hex}; validates both parts. */
  static fromParts(authority: string, classifier: string): PeerName {
    return PeerName.parse(`${authority}.${classifier}`)
  }

  /** PeerNameToPeerHostName: `classifier.authority.pnrp.net`; PEER_E_CANNOT_CONVERT_PEER_NAME. */
  static toHostName(name: string | PeerName): string {
    const peerName = PeerName.parse(name)
    const cannot = (why: string): PeerError =>
      new PeerError(
        'PEER_E_CANNOT_CONVERT_PEER_NAME',
        `${peerName.toString()} has no host name: ${why}`,
      )
    const labels =
      peerName.classifier === ''
        ? []
        : peerName.classifier.split('.').map((s) => classifierLabel(s, cannot))
    if (peerName.isSecured) labels.push(authorityLabel(peerName.authority))
    else if (AUTHORITY_LABEL.test(labels[labels.length - 1] ?? '')) {
      throw cannot('its last classifier part would read back as a secured authority')
    }
    const host = [...labels, PNRP_HOST_SUFFIX].join('.')
    if (host.length > MAX_DNS_NAME_LENGTH)
      throw cannot(`it would be longer than ${MAX_DNS_NAME_LENGTH} characters`)
    return host
  }

  /** PeerHostNameToPeerName; PEER_E_INVALID_PEER_HOST_NAME. */
  static fromHostName(host: string): PeerName {
    const bad = (why: string): PeerError =>
      new PeerError(
        'PEER_E_INVALID_PEER_HOST_NAME',
        `"${String(host).slice(0, 80)}" is not a PNRP host name: ${why}`,
      )
    if (typeof host !== 'string') throw bad('expected a string')
    const name = host.endsWith('.') ? host.slice(0, -1) : host
    if (name.length > MAX_DNS_NAME_LENGTH)
      throw bad(`longer than ${MAX_DNS_NAME_LENGTH} characters`)
    const suffix = '.' + PNRP_HOST_SUFFIX
    if (!name.toLowerCase().endsWith(suffix)) throw bad(`it does not end in ${suffix}`)
    const labels = name.slice(0, -suffix.length).split('.')
    for (const label of labels) {
      if (label === '' || label.length > MAX_DNS_LABEL_LENGTH || !LDH.test(label)) {
        throw bad(`"${label}" is not a DNS label`)
      }
    }
    let authority = UNSECURED_AUTHORITY
    const last = labels[labels.length - 1] as string
    if (AUTHORITY_LABEL.test(last)) {
      authority = (last[0] === 'p' || last[0] === 'P' ? last.slice(1) : last).toLowerCase()
      labels.pop()
    }
    if (authority === UNSECURED_AUTHORITY && labels.length === 0) throw bad('it has no classifier')
    const parts = labels.map((label) => {
      if (!/^xn--/i.test(label)) {
        if (!PLAIN_LABEL.test(label)) throw bad(`"${label}" is not a plain label`)
        return label
      }
      let decoded: string
      try {
        decoded = punycodeDecode(label.slice(4))
      } catch (err) {
        throw bad(`"${label}": ${(err as Error).message}`)
      }
      // Only the canonical encoding is accepted, so each peer name has one host name.
      if (
        !/[^\x00-\x7f]/.test(decoded) ||
        'xn--' + punycodeEncode(decoded) !== 'xn--' + label.slice(4)
      ) {
        throw bad(`"${label}" is not the canonical encoding of a classifier part`)
      }
      return decoded
    })
    const classifier = parts.join('.')
    if (classifier.normalize('NFC') !== classifier)
      throw bad('its classifier is not in Unicode NFC')
    try {
      return PeerName.fromParts(authority, classifier)
    } catch (err) {
      throw bad((err as Error).message)
    }
  }
}

const LDH = /^[A-Za-z0-9-]+$/
// A label we write as-is: letters, digits and inner hyphens, and not the "??--" form that
// IDNA reserves for encodings such as "xn--".
const PLAIN_LABEL = /^(?![A-Za-z0-9]{2}--)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/
// An authority as a label: `p` + 40 hex starting with a digit, or 40 hex starting with a-f.
const AUTHORITY_LABEL = /^(?:[pP][0-9][0-9a-fA-F]{39}|[a-fA-F][0-9a-fA-F]{39})$/

function authorityLabel(authority: string): string {
  return /^[0-9]/.test(authority) ? 'p' + authority : authority
}

function classifierLabel(part: string, cannot: (why: string) => PeerError): string {
  if (part === '') throw cannot('a classifier part between dots is empty')
  let label: string
  if (/^[\x00-\x7f]*$/.test(part)) {
    if (!PLAIN_LABEL.test(part)) {
      throw cannot(`"${part}" is not a DNS label (letters, digits and inner hyphens only)`)
    }
    label = part
  } else {
    if (/[^A-Za-z0-9-\u0080-\u{10ffff}]/u.test(part)) {
      throw cannot(`"${part}" mixes non-ASCII text with ASCII symbols DNS cannot carry`)
    }
    label = 'xn--' + punycodeEncode(part)
  }
  if (label.length > MAX_DNS_LABEL_LENGTH) {
    throw cannot(`"${part}" encodes to more than ${MAX_DNS_LABEL_LENGTH} characters`)
  }
  return label
}
