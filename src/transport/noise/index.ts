/** Noise XX on node:crypto (Noise Protocol Framework rev 34): peerinfra's secure channel. */
export { CipherState } from './cipher-state.ts'
export {
  DHLEN,
  KEYLEN,
  MAX_NONCE,
  TAGLEN,
  dh,
  noiseHash,
  x25519FromPrivate,
  x25519KeyPair,
  type NoiseHash,
  type NoiseHashName,
  type X25519KeyPair,
} from './crypto.ts'
export { XXHandshake, type XXHandshakeOptions } from './handshake.ts'
