/**
 * Simulator timers, limits and defaults (DESIGN.md section 7). Stream limits it shares with the
 * real transports (STREAM_HIGH_WATER_BYTES, MAX_QUEUED_WRITE_BYTES) are in transport/constants.ts.
 */

/**
 * A stream whose two ends are on opposite sides of a partition stalls; unless the partition
 * heals first, both ends are closed with PEER_E_CONNECTION_FAILED after this long. Real TCP
 * gives up after its retransmission timeouts (RFC 6298; about 15 minutes with Linux's default
 * tcp_retries2), far longer than protocols wait: 30 s is the simulated stand-in.
 */
export const STREAM_PARTITION_TIMEOUT_MS = 30_000

/** First port handed out for port 0 (IANA dynamic/private range, RFC 6335). */
export const FIRST_DYNAMIC_PORT = 49_152
/** Highest port number. */
export const LAST_PORT = 65_535

/** runUntil's time limit when none is given: one virtual minute. */
export const DEFAULT_RUN_UNTIL_MS = 60_000

/** Environment variable that overrides every scenario's seed (to replay a failure). */
export const SEED_ENV_VAR = 'PEERINFRA_SEED'
