/**
 * The SQLite schema of one graph database (one per graph per local peer, DESIGN.md section 3).
 * Times are milliseconds since the Unix epoch in peer time; GUIDs are lowercase canonical text.
 * Each record's attributes are also stored one row per attribute, so a search compiles to
 * parameterised SQL over `record_attributes` (see search.ts).
 */

/** Bumped when the schema changes; a database with another version is refused. */
export const SCHEMA_VERSION = 1

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS records (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  version INTEGER NOT NULL,
  flags INTEGER NOT NULL,
  creator TEXT NOT NULL,
  modified_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  modified_at INTEGER NOT NULL,
  security_data BLOB NOT NULL,
  data BLOB NOT NULL,
  deferred INTEGER NOT NULL DEFAULT 0,
  received_at INTEGER NOT NULL,
  digest BLOB NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS records_by_type ON records (type, creator);
CREATE INDEX IF NOT EXISTS records_by_creator ON records (creator);
CREATE INDEX IF NOT EXISTS records_by_expiry ON records (expires_at);
-- A node's own AUTOREFRESH records, for the refresh timer (store.ts REFRESHABLE: same terms).
CREATE INDEX IF NOT EXISTS records_to_refresh ON records (creator, expires_at)
  WHERE (flags & 1) != 0 AND (flags & 2) = 0 AND deferred = 0;
-- Sync walks records in (modification time, digest) order (reconcile.ts) and fetches by digest.
CREATE UNIQUE INDEX IF NOT EXISTS records_by_sync ON records (modified_at, digest);

CREATE TABLE IF NOT EXISTS record_attributes (
  record INTEGER NOT NULL REFERENCES records (seq) ON DELETE CASCADE,
  name TEXT NOT NULL,
  type TEXT NOT NULL CHECK (type IN ('string', 'int', 'date')),
  value ANY NOT NULL,
  PRIMARY KEY (record, name)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS record_attributes_by_value ON record_attributes (name, type, value);
`
