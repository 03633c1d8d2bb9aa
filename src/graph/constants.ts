/**
 * Peer Graphing's limits and timers, each with its source: windows-api.md section 1 (the
 * Windows API) and ms-protocols.md section 2 (MS-PPGRH). docs/LIMITS.md lists them.
 */

/** PEER_GRAPH_PROPERTIES: graph and creator ids at most 256 characters with the terminator. */
export const MAX_GRAPH_ID_CHARS = 255
/** PEER_GRAPH_PROPERTIES: friendly name at most 256 characters with the terminator. */
export const MAX_FRIENDLY_NAME_CHARS = 255
/** PEER_GRAPH_PROPERTIES: comment at most 512 characters with the terminator. */
export const MAX_COMMENT_CHARS = 511
/** MS-PPGRH 2.3: CreatorID and LastModifiedBy at most 256 characters. */
export const MAX_PEER_ID_CHARS = 255

/** dwMaxRecordSize 0 means this default: 60 MB. */
export const DEFAULT_MAX_RECORD_SIZE = 60 * 1024 * 1024
/** dwMaxRecordSize: at least 1024 bytes... */
export const MIN_MAX_RECORD_SIZE = 1024
/** ...and at most 60 MB. */
export const MAX_MAX_RECORD_SIZE = 60 * 1024 * 1024

/** ulPresenceLifetime: default 300 s; below 300 is undefined in Windows, refused here. */
export const DEFAULT_PRESENCE_LIFETIME_S = 300
export const MIN_PRESENCE_LIFETIME_S = 300
/** Our bound on ulPresenceLifetime (Windows names none): one day. */
export const MAX_PRESENCE_LIFETIME_S = 86_400
/** cPresenceMax: -1 everyone, 0 nobody automatically, N at most N (our bound on N). */
export const MAX_PRESENCE_MAX = 10_000

/** PEER_RECORD dwFlags (p2p.h): the application cannot set them. */
export const RECORD_FLAG_AUTOREFRESH = 1
export const RECORD_FLAG_DELETED = 2

/** Graph status flags (p2p.h PEER_GRAPH_STATUS_FLAGS). */
export const STATUS_LISTENING = 1
export const STATUS_HAS_CONNECTIONS = 2
export const STATUS_SYNCHRONIZED = 4

/**
 * Attributes of one record. Windows has PEER_E_TOO_MANY_ATTRIBUTES but never published the
 * limit (windows-api.md: unconfirmed), so this one is ours.
 */
export const MAX_RECORD_ATTRIBUTES = 64
/** Longest attribute name (ours; Windows only requires alphanumerics). */
export const MAX_ATTRIBUTE_NAME_CHARS = 64
/** Longest string attribute value, in characters (ours). */
export const MAX_ATTRIBUTE_STRING_CHARS = 4096
/** Largest attribute XML of one record, in UTF-8 bytes (ours). */
export const MAX_ATTRIBUTES_XML_BYTES = 64 * 1024

/** Largest `<peersearch>` query, in UTF-8 bytes (ours). */
export const MAX_SEARCH_XML_BYTES = 16 * 1024
/** Most clauses in one search (ours). */
export const MAX_SEARCH_CLAUSES = 64
/** Deepest and/or nesting in one search (ours). */
export const MAX_SEARCH_DEPTH = 8

/** windows-api.md: keep an AUTOREFRESH record's expiration at least 4 minutes away. */
export const MIN_AUTOREFRESH_LIFETIME_MS = 4 * 60_000
/** MS-PPGRH 2.4: autorefresh runs about 20 s before expiry, renewing for the same lifetime. */
export const AUTOREFRESH_LEAD_MS = 20_000
/** MS-PPGRH 2.5: the expiry scan runs at most every 24 h and at least 15 s apart. */
export const MIN_EXPIRY_SCAN_MS = 15_000
export const MAX_EXPIRY_SCAN_MS = 24 * 3_600_000

// ---- the graph protocol (messages.ts) ---------------------------------------------------

/** Windows' ullNodeId: 8 bytes. */
export const NODE_ID_BYTES = 8
/** Largest graph message, under the channel's message limit (records over 1 MiB are chunked). */
export const MAX_GRAPH_MESSAGE_BYTES = 16 * 1024 * 1024 - 4096
/** Addresses a node announces (ours; MS-PPGRH gives none). */
export const MAX_NODE_ADDRESSES = 8
/** MS-PPGRH 2.2: WELCOME carries 10 referrals by default, DISCONNECT up to 10. */
export const MAX_REFERRALS = 10
/** Referrals a connect follows after REFUSEs before it gives up (ours). */
export const MAX_REFERRAL_ATTEMPTS = 5
/** MS-PPGRH 2.4: the referral list holds at most 100 entries. */
export const MAX_REFERRAL_LIST = 100
/** Digests in one REQUEST and in one ACK (ours). */
export const MAX_REQUEST_ITEMS = 1024
export const MAX_ACK_ITEMS = 1024
/** Malformed messages a link forgives before it closes (ours). */
export const MAX_BAD_MESSAGES_PER_LINK = 16
/** MS-PPGRH 2.4 link utility: LU <- (31/32) LU, plus 128 when useful. */
export const UTILITY_DECAY = 31 / 32
export const UTILITY_USEFUL = 128

/** MS-PPGRH 2.5: a connection attempt (CONNECT to WELCOME) gives up after 60 s. */
export const CONNECT_TIMEOUT_MS = 60_000
/**
 * A peer the security provider admitted to its own channels only (a group's password joiner)
 * keeps its connection this long at most, then it is closed (ours): a password join takes a
 * few round trips and a 30 s timeout per step.
 */
export const RESTRICTED_CONNECTION_MS = 120_000
/** MS-PPGRH 2.4 / DESIGN.md 5.3: minimum 2, ideal 3, maximum 7 neighbours. */
export const MIN_NEIGHBORS = 2
export const IDEAL_NEIGHBORS = 3
export const MAX_NEIGHBORS = 7
/** Direct connections a graph holds at once (ours). */
export const MAX_DIRECT_CONNECTIONS = 64
/** MS-PPGRH 2.4 peer time: a remote estimate further than 20 min from ours is ignored. */
export const MAX_PEER_TIME_SKEW_MS = 20 * 60_000
/** MS-PPGRH 2.4 peer time: later neighbours move the offset by 0.2 of the difference. */
export const PEER_TIME_WEIGHT = 0.2
/**
 * Records whose wire form is larger than this travel as CHUNK messages of at most this many
 * bytes each (DESIGN.md 5.3: large records travel in chunks; a record may be 60 MB).
 */
export const RECORD_CHUNK_BYTES = 1024 * 1024
/** Chunked records a link may be receiving at once (ours). */
export const MAX_CHUNKED_RECORDS_PER_LINK = 2
/** Records whose wire size is above this are announced, then pulled (ours). */
export const ANNOUNCE_THRESHOLD_BYTES = 16 * 1024
/** A pull of an announced record that got no answer moves to another announcer after this. */
export const PULL_TIMEOUT_MS = 30_000
/**
 * Announced records being pulled at once (ours). Announces beyond it are ignored: the record
 * still arrives with the next sync or reconciliation.
 */
export const MAX_PENDING_PULLS = 256
/** Digests a link remembers having flooded, so that only their ACKs count for its utility. */
export const MAX_UNACKED_FLOODS_PER_LINK = 1024
/** Records per REQUEST batch during sync and per FLOOD burst before awaiting the channel. */
export const SYNC_BATCH = 256
/** Reconciliation rounds one sync may take (about 7 at 100,000 records; ours). */
export const MAX_RECONCILE_ROUNDS = 64
/** How far back of its last time online a returning node's time-based sync starts (ours). */
export const TIME_SYNC_MARGIN_MS = 5 * 60_000

/** MS-PPGRH 2.3 internal record types, hidden from the application's Enum and Search. */
export const GRAPH_INFO_RECORD_TYPE = '00000100-0000-0000-0000-000000000000'
export const SIGNATURE_RECORD_TYPE = '00000200-0000-0000-0000-000000000000'
export const CONTACT_RECORD_TYPE = '00000300-0000-0000-0000-000000000000'
export const PRESENCE_RECORD_TYPE = '00000400-0000-0000-0000-000000000000'
export const INTERNAL_RECORD_TYPES: readonly string[] = [
  GRAPH_INFO_RECORD_TYPE,
  SIGNATURE_RECORD_TYPE,
  CONTACT_RECORD_TYPE,
  PRESENCE_RECORD_TYPE,
]
/** MS-PPGRH 2.5: the maintenance loop runs every 300 s, every 30 s with no neighbours... */
export const MAINTENANCE_MS = 300_000
export const MAINTENANCE_ALONE_MS = 30_000
/** ...and soon after a neighbour connects or leaves (ours: how soon). */
export const MAINTENANCE_KICK_MS = 1_000
/**
 * Beyond MS-PPGRH, in place of its step 5 (long-term partition repair through the
 * application): on each timed pass a node at the ideal neighbour count still connects to a
 * random known node with this probability (the next pass drops the least useful link), so two
 * parts of a graph that split for longer than contact records live find each other again.
 */
export const PROBE_PROBABILITY = 0.25

/** MS-PPGRH 2.4 presence: nodes self-balance towards presenceMax after a random 30-180 s... */
export const PRESENCE_BALANCE_MIN_MS = 30_000
export const PRESENCE_BALANCE_MAX_MS = 180_000
/** ...and unpublish only when more than presenceMax + 10 are published. */
export const PRESENCE_OVERSHOOT = 10
/** Longest free-text node attributes (SetNodeAttributes; ours). */
export const MAX_NODE_ATTRIBUTES_CHARS = 4096

// ---- partition detection and repair (MS-PPGRH 2.4 Signature, Contacts, Partitions) ---------

/** How often a node looks at the signature, its contacts and partitions (ours; MS runs them
 * in the 300 s maintenance loop, with timers of seconds inside). */
export const PARTITION_PASS_MS = 30_000
/** MS-PPGRH 2.4: the signature record lives 300 s, refreshed by its holder about 20 s before. */
export const SIGNATURE_LIFETIME_MS = 300_000
/** MS-PPGRH 2.4: a missing signature is replaced after 0.1 + d * 29.9 s, d from the node id. */
export const SIGNATURE_BACKOFF_MAX_MS = 29_900
/** MS-PPGRH 2.4: contact records live 900 s. */
export const CONTACT_LIFETIME_MS = 900_000
/** MS-PPGRH 2.4: a node promotes or demotes itself as a contact after a random 10-180 s. */
export const CONTACT_DELAY_MIN_MS = 10_000
export const CONTACT_DELAY_MAX_MS = 180_000
/** MS-PPGRH 2.4: Cmin is 5 for a large signature, 60 - log2 S otherwise; Cmax = Cmin + 5. */
export const MIN_CONTACTS = 5
export const CONTACT_SPREAD = 5
/** Our bound on Cmin (60 - log2 S grows without bound as S shrinks). */
export const MAX_CONTACTS = 32
/**
 * Partition repairs (connections to a contact of another signature) one pass may start (ours):
 * contact records are written by nodes of the graph, and forged ones must not make every node
 * dial where they point.
 */
export const MAX_REPAIRS_PER_PASS = 1
/** MS-PPGRH 2.4: a suspected partition is checked again after a random 5-30 s. */
export const PARTITION_RECHECK_MIN_MS = 5_000
export const PARTITION_RECHECK_MAX_MS = 30_000
