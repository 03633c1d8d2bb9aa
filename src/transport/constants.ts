/** Transport limits and timers (docs/LIMITS.md lists them with their sources). */

/** Noise (rev 34, section 3): a Noise message is at most 65535 bytes. */
export const NOISE_MAX_MESSAGE_BYTES = 65_535
/** Default frame maximum: one Noise message. */
export const DEFAULT_MAX_FRAME_BYTES = NOISE_MAX_MESSAGE_BYTES
/** Frame length prefix: 4 bytes, big-endian (DESIGN.md section 3). */
export const FRAME_HEADER_BYTES = 4
/**
 * Pieces (received chunks) a frame may be held in: beyond it they are joined into one buffer,
 * so a peer sending one-byte TCP segments cannot make us keep an object per byte (each piece
 * costs a hundred bytes or more of bookkeeping; decryption would keep one output per piece).
 */
export const MAX_FRAME_PIECES = 8
/** A dial that has not connected by then fails with PEER_E_TIMEOUT. */
export const DIAL_TIMEOUT_MS = 20_000
/** MS-PPGRH: the minimum connection (authentication) timeout is 20 s. */
export const HANDSHAKE_TIMEOUT_MS = 20_000
/** Bytes a stream buffers for sending before write() reports backpressure. */
export const STREAM_HIGH_WATER_BYTES = 1024 * 1024
/** write() fails a stream (PEER_E_TOO_LARGE) with this much queued: backpressure was ignored. */
export const MAX_QUEUED_WRITE_BYTES = 4 * STREAM_HIGH_WATER_BYTES
/** An orderly close waits this long for queued bytes to go out and the peer to close its side. */
export const CLOSE_GRACE_MS = 5_000
/** Listen and bind default to loopback: a library listens on all interfaces only when told. */
export const DEFAULT_LISTEN_HOST = '127.0.0.1'
/** Largest datagram payload any DatagramSocket sends or accepts (the IPv4 UDP maximum). */
export const MAX_DATAGRAM_BYTES = 65_507
/**
 * Largest payload that crosses any IPv6 path unfragmented (1280 - 40 - 8): what protocols
 * should aim for; larger messages are split by the protocol (MS-PNRP: 1,188-byte fragments).
 */
export const SAFE_DATAGRAM_BYTES = 1232

/** Noise (section 5.1): the authentication tag each transport message carries. */
export const NOISE_TAG_BYTES = 16
/** Largest plaintext in one secure message: a Noise message less its tag. */
export const MAX_SECURE_MESSAGE_BYTES = NOISE_MAX_MESSAGE_BYTES - NOISE_TAG_BYTES
/**
 * Each direction rekeys (Noise section 11.3) after this many messages; both sides count, so no
 * signal is needed. 2^16 messages is at most 4 GiB under one key.
 */
export const REKEY_INTERVAL_MESSAGES = 65_536
/**
 * A session with nothing to send for this long sends a keepalive (an empty transport message),
 * so the peer and any NAT or firewall on the way see it alive.
 */
export const KEEPALIVE_MS = 15_000
/** A session that has received nothing, not even a keepalive, for this long is closed (PEER_E_TIMEOUT). */
export const IDLE_TIMEOUT_MS = 60_000
/** Most bytes of application payload (e.g. a certificate chain) in a handshake identity message. */
export const MAX_HANDSHAKE_APP_PAYLOAD_BYTES = 48 * 1024
/**
 * Transport messages a responder keeps while it authorizes the initiator (reading is paused
 * meanwhile, so only what was already read can arrive); more closes the connection.
 */
export const MAX_EARLY_FRAMES = 64
/** Version of the handshake identity payload. */
export const HANDSHAKE_PAYLOAD_VERSION = 1
/** Prologue prefix; the context (graph or group id) follows it. */
export const PROLOGUE_PREFIX = 'peerinfra/1 '
/** Verified handshake identities a node remembers, so a returning peer costs no signature check. */
export const VERIFIED_IDENTITY_CACHE = 1024
/**
 * The first handshake message's payload names the context by the first CONTEXT_SELECTOR_BYTES
 * of SHA-256(CONTEXT_SELECTOR_DOMAIN || 0x00 || context), so one listening port can serve
 * several contexts (port-hub.ts) and a wrong context is refused at once.
 */
export const CONTEXT_SELECTOR_BYTES = 16
export const CONTEXT_SELECTOR_DOMAIN = 'peerinfra/v1/context'
/** Bytes of the first handshake frame: length header, ephemeral key, context selector. */
export const FIRST_HANDSHAKE_FRAME_BYTES = 4 + 32 + CONTEXT_SELECTOR_BYTES
/**
 * A shared port (port-hub.ts) waits this long for a stream's first frame, which an initiator
 * sends as soon as it is connected, and holds at most this many such streams per remote
 * address (MAX_PENDING_HANDSHAKES for all), so one host cannot block every context on it.
 */
export const FIRST_FRAME_TIMEOUT_MS = 5_000
export const MAX_UNROUTED_PER_ADDRESS = 8
/** Domain of the signature binding an Ed25519 identity to its Noise static key. */
export const NOISE_BINDING_DOMAIN = 'peerinfra/v1/noise-static-key'

/**
 * Channels: the bytes a sender may have unacknowledged on one channel (its credit window).
 * Measured on loopback between two processes: 256 KiB gave about 120 MB/s, 1 MiB about 160,
 * 4 MiB about 170; 1 MiB keeps most of the gain at a quarter of the memory.
 */
export const CHANNEL_WINDOW_BYTES = 1024 * 1024
/** Bytes a channel queues for sending beyond its window before send() refuses (PEER_E_TOO_MUCH_LOAD). */
export const CHANNEL_MAX_QUEUE_BYTES = 4 * 1024 * 1024
/** What each channel fragment costs in credit beyond its bytes, so empty fragments are not free. */
export const FRAGMENT_CREDIT_OVERHEAD = 64
/** Largest message on a channel (fragmented over secure messages, reassembled on arrival). */
export const CHANNEL_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
/**
 * Open channels on one session, both sides together. Times CHANNEL_WINDOW_BYTES, it bounds what
 * a session whose channels nobody reads can hold: 32 MiB.
 */
export const MAX_CHANNELS_PER_SESSION = 32
/**
 * Bytes of partly received messages one session holds across all its channels. Each channel is
 * bounded by CHANNEL_MAX_MESSAGE_BYTES; this bounds their sum (32 channels x 16 MiB otherwise).
 * A peer that goes beyond it is closed with a protocol error.
 */
export const SESSION_MAX_REASSEMBLY_BYTES = 4 * CHANNEL_MAX_MESSAGE_BYTES
/** A channel name (what it is for: `graph:chat`, `direct:…`) in UTF-8 bytes. */
export const MAX_CHANNEL_NAME_BYTES = 256
/** Channel frame header: type (1 byte) + channel id (4 bytes, big-endian). */
export const CHANNEL_HEADER_BYTES = 5

/** Secure connections one ConnectionManager holds (one per remote peer and context). */
export const MAX_CONNECTIONS = 1024
/** Inbound handshakes in progress at once; more are refused (bounds a flood's state). */
export const MAX_PENDING_HANDSHAKES = 64
/** Of those, from one remote address: one host cannot take every slot. */
export const MAX_PENDING_HANDSHAKES_PER_ADDRESS = 8
