/**
 * PNRP timers and limits, with their sources (ms-protocols.md section 1 summarises [MS-PNRP];
 * windows-api.md section 4 the API rules). docs/LIMITS.md lists them.
 */

// ---- identifiers ------------------------------------------------------------------------

/** MS-PNRP 1.2: a PNRP ID is 256 bits: a 128-bit P2P ID and a 128-bit service location. */
export const PNRP_ID_BYTES = 32
export const P2P_ID_BYTES = 16
export const SERVICE_LOCATION_BYTES = 16
/** MS-PNRP 1.2: INQUIRE and REQUEST nonces are 16 bytes. */
export const NONCE_BYTES = 16
/** The SHA-256 of a SOLICIT nonce (MS-PNRP uses SHA-1; we use SHA-256 throughout). */
export const HASHED_NONCE_BYTES = 32

// ---- CPA (the signed registration) --------------------------------------------------------

/** PeerPnrpRegister / PeerNameRegistration: at most 10 endpoints. */
export const MAX_CPA_ENDPOINTS = 10
/** PeerPnrpUpdateRegistration / PeerNameRegistration.Data: payload at most 4096 bytes. */
export const MAX_CPA_PAYLOAD_BYTES = 4096
/** PeerNameRegistration.Comment: at most 39 characters (WSASetService: under 40). */
export const MAX_CPA_COMMENT_LENGTH = 39
/** 39 characters take at most 156 UTF-8 bytes. */
export const MAX_CPA_COMMENT_BYTES = 4 * MAX_CPA_COMMENT_LENGTH
/** MS-PNRP 1.4: a CPA's NotAfter lies 12 h to 1 week ahead; Windows V2 uses 86400 s. */
export const CPA_LIFETIME_MS = 24 * 3600 * 1000
export const MAX_CPA_LIFETIME_MS = 7 * 24 * 3600 * 1000
/** Endpoint address text: an IP literal (or a simulator node name), at most this long. */
export const MAX_ADDRESS_LENGTH = 64
/** The characters of an endpoint address: IPv4, IPv6 with a zone, or a simulator node name. */
export const ENDPOINT_ADDRESS_PATTERN = /^[0-9A-Za-z.:%_-]+$/
/** Signature domains (keys.ts domainSeparated). */
export const CPA_SIGNATURE_DOMAIN = 'peerinfra/pnrp/cpa/v1'
export const CPA_VERSION = 1

// ---- messages -----------------------------------------------------------------------------

export const PNRP_MESSAGE_VERSION = 1
/**
 * MS-PNRP 1.1: datagrams from ports up to 1024 are dropped; likewise no route entry naming such
 * a port is contacted, so a forged entry cannot aim our requests at a well-known service.
 */
export const MIN_PNRP_PORT = 1025
/** MS-PNRP 1.1: a node SHOULD use UDP port 3540. */
export const DEFAULT_PNRP_PORT = 3540
/**
 * Largest datagram we send or accept. An AUTHORITY carrying a CPA with the full 4096-byte
 * payload stays under it (MS-PNRP splits AUTHORITY into 1,188-byte fragments; IP fragments ours).
 */
export const MAX_PNRP_DATAGRAM_BYTES = 8192
/** MS-PNRP 1.4: a route entry carries 1-20 addresses; we allow 4 (MS-PNRP 1.6: bind up to 4). */
export const MAX_ROUTE_ENDPOINTS = 4
/** MS-PNRP 1.3: ADVERTISE lists about 5 IDs spread over the space; REQUEST asks for them. */
export const ADVERTISE_IDS = 5
export const MAX_ADVERTISE_IDS = 16
/** MS-PNRP 1.7: the flagged path of a LOOKUP and the Already-Flooded list hold at most 22. */
export const MAX_PATH = 22
/** Leaf entries an AUTHORITY may carry (a 5+5 leaf set). */
export const MAX_AUTHORITY_LEAVES = 10

// ---- cache --------------------------------------------------------------------------------

/** MS-PNRP 1.5 ("PNRP Caches"): up to 20 entries a level, each level 1/10 of the one above. */
export const CACHE_ENTRIES_PER_LEVEL = 20
export const CACHE_LEVEL_RATIO = 10
/** 10^77 > 2^256: no ring distance needs more levels than this. */
export const MAX_CACHE_LEVELS = 78
/** MS-PNRP 1.5: each registered ID keeps a leaf set of 5 IDs below and 5 above. */
export const LEAF_SET_SIDE = 5
/** Local IDs (registrations and the node's own ID) per cloud. */
export const MAX_LOCAL_IDS = 64

// ---- resolution ---------------------------------------------------------------------------

/** MS-PNRP 1.7: a resolve gives up after 22 hops or more than 6 suspicious (L-flag) replies. */
export const MAX_HOPS = 22
export const MAX_SUSPICIOUS_REPLIES = 6
/** MS-PNRP 1.6: a hop is retired after 3 uses. */
export const MAX_HOP_USES = 3
/** MS-PNRP 1.6: set the A flag (accept entries that are not closer) with fewer cache entries. */
export const SMALL_CACHE_ENTRIES = 8
/** PeerPnrpResolve: 30 s by default; WSALookupServiceBegin allows at most 600 s. */
export const DEFAULT_RESOLVE_TIMEOUT_MS = 30_000
export const MAX_RESOLVE_TIMEOUT_MS = 600_000
/** Results one resolve returns at most (PeerPnrpStartResolve's cMaxEndpoints). */
export const DEFAULT_MAX_RESULTS = 1
export const MAX_RESULTS = 100
/** Candidates a resolve validates with an INQUIRE at most (bounds work per resolve). */
export const MAX_VALIDATIONS_PER_RESOLVE = 32

// ---- timers -------------------------------------------------------------------------------

/** MS-PNRP 1.7: retransmit every 1 s, 2 retries. */
export const RETRANSMIT_MS = 1000
export const RETRY_COUNT = 2
/** MS-PNRP 1.7: conversation (SOLICIT) state lives 15 s. */
export const CONVERSATION_TTL_MS = 15_000
/** MS-PNRP 1.7: maintenance every 15 s; 10 s while the cache holds 2 entries or fewer. */
export const MAINTENANCE_MS = 15_000
export const SMALL_CACHE_MAINTENANCE_MS = 10_000
/** Bootstrap: SOLICIT at most this many known nodes at a time (MS-PNRP: 5 SSDP responders). */
export const BOOTSTRAP_FANOUT = 5
/** A cache entry not heard from in this long is checked (INQUIRE) before it is used again. */
export const ENTRY_STALE_MS = 5 * 60_000

// ---- bounded state and rate limits ----------------------------------------------------------

/** Open conversations (SOLICIT state) a node keeps; beyond, it answers an empty ADVERTISE. */
export const MAX_CONVERSATIONS = 256
/** Requests of ours awaiting a reply (retransmission table). */
export const MAX_PENDING_REQUESTS = 1024
/** Resolves running at once on a node. */
export const MAX_CONCURRENT_RESOLVES = 64
/** Route entries waiting for their return-routability INQUIRE. */
export const MAX_PENDING_ADMISSIONS = 64
/** Per-source budget: datagrams per second (token bucket), and sources tracked. */
export const SOURCE_RATE_PER_SECOND = 100
export const SOURCE_BURST = 200
export const MAX_TRACKED_SOURCES = 4096

// ---- clouds and the API (service.ts, cloud.ts) ----------------------------------------------

/** How long a link-local cloud listens for mDNS answers before it bootstraps (or is alone). */
export const LINK_DISCOVERY_WAIT_MS = 1000
/**
 * How often a cloud bound to every interface reads the machine's addresses again, so that its
 * route entry and automatic registrations follow a new network (Windows PNRP is told of address
 * changes by the system; Node offers no such notification, so we look).
 */
export const ADDRESS_CHECK_MS = 30_000
/** mDNS: the service PNRP nodes announce on the local link (in place of MS-PNRP's SSDP). */
export const MDNS_SERVICE = '_pnrp._udp.local'
/** mDNS: how often a link-local cloud asks the link again while it knows no one. */
export const MDNS_QUERY_MS = 30_000
/** mDNS: answers kept from one query round (bounds what a noisy link can make us store). */
export const MAX_MDNS_PEERS = 32
/** Global_: the nodes remembered across restarts for the next bootstrap (MS-PNRP 1.6). */
export const RECENT_NODES_KEPT = 32
/** The persisted list's largest accepted size on disk. */
export const MAX_RECENT_NODES_FILE_BYTES = 16 * 1024

// ---- performance bounds (pnrp ids, cache, node) ----------------------------------------------

/**
 * P2P IDs remembered per process (ids.ts p2pIdOf): every CPA decoded recomputes its name's ID,
 * a SHA-256 over the parsed name. Bounded memory, not a protocol limit (ours).
 */
export const P2P_ID_MEMO_SIZE = 4096
/**
 * MS-PNRP 1.6 "Resolve": the NextHop stack starts with the cached entries closest to the
 * target; we take this many, and take as many again from the cache when the stack runs empty
 * before the walk ends (their nodes failed: they were removed from the cache).
 */
export const RESOLVE_START_ENTRIES = 3
/**
 * Leaf-set repair (ours; MS-PNRP has split detection only): in one maintenance round in this
 * many (at random), a node re-announces one of its IDs on a walk that starts across the ring,
 * which finds neighbours that concurrent joins kept from its leaf set. About one walk per node
 * per 5 minutes at MAINTENANCE_MS.
 */
export const LEAF_REPAIR_ROUNDS = 20
/**
 * MS-PNRP 1.6 split detection runs at a rate inversely proportional to the estimated cloud
 * size, so that the whole cloud runs a constant number: each node once per (estimate x this),
 * about one walk every 2 s in the whole cloud, and never more often than SPLIT_DETECTION_MIN_MS.
 */
export const SPLIT_DETECTION_PER_NODE_MS = 2000
export const SPLIT_DETECTION_MIN_MS = 60_000
/**
 * MS-PNRP 1.7 maintenance: stale leaf-set entries (ENTRY_STALE_MS) INQUIREd per round at most;
 * other stale entries are checked when a LOOKUP answer hands them out.
 */
export const STALE_CHECKS_PER_ROUND = 8
/**
 * The per-source bucket table is swept of buckets that have refilled (equivalent to none) once
 * it holds this many, at most once per refill time: a node keeps only recent sources (ours).
 */
export const SOURCE_SWEEP_SIZE = 32
