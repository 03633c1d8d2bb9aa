/**
 * The transport's own wire messages: the identity payload carried inside the Noise XX
 * handshake (docs/PROTOCOL.md section "Secure channel").
 */
import { s } from '../wire/index.ts'
import { MAX_PEER_NAME_BYTES, PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from '../identity/constants.ts'
import { HANDSHAKE_PAYLOAD_VERSION, MAX_HANDSHAKE_APP_PAYLOAD_BYTES } from './constants.ts'

/**
 * Sent by the responder in XX message 2 and by the initiator in message 3, both encrypted:
 * `{ v: 1, name, key, sig, app? }` where `key` is the Ed25519 identity key, `name` its peer
 * name, `sig` = Ed25519(key, NOISE_BINDING_DOMAIN || 0x00 || noise static public key), and
 * `app` an opaque application payload (Grouping: the membership chain).
 */
export const identityPayloadSchema = s.struct({
  v: s.literal(HANDSHAKE_PAYLOAD_VERSION),
  name: s.text({ maxBytes: MAX_PEER_NAME_BYTES }),
  key: s.bytes({ length: PUBLIC_KEY_BYTES, max: PUBLIC_KEY_BYTES }),
  sig: s.bytes({ length: SIGNATURE_BYTES, max: SIGNATURE_BYTES }),
  app: s.optional(s.bytes({ max: MAX_HANDSHAKE_APP_PAYLOAD_BYTES })),
})
