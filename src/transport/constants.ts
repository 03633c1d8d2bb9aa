/** Transport limits and timers (docs/LIMITS.md lists them with their sources). */

/** Noise (rev 34, section 3): a Noise message is at most 65535 bytes. */
export const NOISE_MAX_MESSAGE_BYTES = 65_535
/** Default frame maximum: one Noise message. */
export const DEFAULT_MAX_FRAME_BYTES = NOISE_MAX_MESSAGE_BYTES
/** Frame length prefix: 4 bytes, big-endian (DESIGN.md section 3). */
export const FRAME_HEADER_BYTES = 4
/** A dial that has not connected by then fails with PEER_E_TIMEOUT. */
export const DIAL_TIMEOUT_MS = 20_000
/** MS-PPGRH: the minimum connection (authentication) timeout is 20 s. */
export const HANDSHAKE_TIMEOUT_MS = 20_000
/** Bytes a stream buffers for sending before write() reports backpressure. */
export const STREAM_HIGH_WATER_BYTES = 1024 * 1024
/** Largest datagram payload any DatagramSocket sends or accepts (the IPv4 UDP maximum). */
export const MAX_DATAGRAM_BYTES = 65_507
/**
 * Largest payload that crosses any IPv6 path unfragmented (1280 - 40 - 8): what protocols
 * should aim for; larger messages are split by the protocol (MS-PNRP: 1,188-byte fragments).
 */
export const SAFE_DATAGRAM_BYTES = 1232
