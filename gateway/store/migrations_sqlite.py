"""The SQLite schema's history: the base (version 3) and the steps since, for the runner in migrations.py.

A step's SQL is a script of statements; the `CREATE ... IF NOT EXISTS` of the steps up to version 5 are as the
gateway of those releases made the objects (sqlite_master keeps each statement's text, and a fresh database must be
identical to an upgraded one). Adding a step: write its DDL as a constant and append
`Step(N, "what it adds", DDL)` to STEPS (N = the last version + 1); tests/integration/test_migrations.py then checks
that a fresh database equals the fixture of the oldest release migrated to N.
"""
from __future__ import annotations

from gateway.store.anomaly_counts import ANOMALY_TABLES_SQLITE
from gateway.store.migrations import Plan, Step
from gateway.store.quota_sql import SQLITE_QUOTA_TABLES

# Identity numbers, names, addresses and permit numbers are stored only as AES-GCM ciphertext, found by HMAC blind
# index (store/crypto.py).
BASE_VERSION = 3
BASE = """
CREATE TABLE IF NOT EXISTS persons (
  subject BLOB PRIMARY KEY,          -- blind index of the identity number
  id_enc BLOB NOT NULL, name_enc BLOB NOT NULL,
  sex TEXT NOT NULL, birth_date TEXT NOT NULL, hukou_region TEXT, talent TEXT,
  mac BLOB NOT NULL                  -- keyed digest of the content: re-imports change nothing
);
CREATE TABLE IF NOT EXISTS registrations (
  subject BLOB NOT NULL, district TEXT NOT NULL, declared_on TEXT NOT NULL,
  address_enc BLOB NOT NULL, housing_type TEXT NOT NULL, mac BLOB NOT NULL,
  PRIMARY KEY (subject, district, declared_on)
);
-- Every version of a permit seen, once (an endorsement extends valid_until; a revocation changes state):
-- points need the history to see a late endorsement; status reads the latest version of each permit.
CREATE TABLE IF NOT EXISTS permits (
  id INTEGER PRIMARY KEY,
  permit_key BLOB NOT NULL,          -- blind index of the permit number
  subject BLOB NOT NULL, permit_no_enc BLOB NOT NULL, district TEXT NOT NULL,
  issued_on TEXT NOT NULL, valid_until TEXT NOT NULL, endorsed_on TEXT, state TEXT NOT NULL,
  mac BLOB NOT NULL,
  UNIQUE (permit_key, mac)
);
CREATE INDEX IF NOT EXISTS permits_subject ON permits(subject);
CREATE TABLE IF NOT EXISTS guardianships (
  child BLOB NOT NULL, guardian BLOB NOT NULL, source TEXT NOT NULL,
  guardian_enc BLOB NOT NULL, relation TEXT NOT NULL, mac BLOB NOT NULL,
  PRIMARY KEY (child, guardian, source)
);
-- Every version of a fact ever seen, once: a re-import of any file (even one holding two versions of
-- one fact) finds all its versions present and changes nothing. The current version of a fact is the
-- one first seen last (highest id).
CREATE TABLE IF NOT EXISTS facts (
  id INTEGER PRIMARY KEY,
  key BLOB NOT NULL,                 -- keyed digest of the fact's natural key (domain/records.NATURAL_KEYS)
  subject BLOB NOT NULL,             -- blind index of a person the fact is about (one row each)
  kind TEXT NOT NULL,
  body_enc BLOB NOT NULL,            -- the whole fact, encrypted (store/codec.py)
  mac BLOB NOT NULL,                 -- keyed digest of the content: identifies the version
  UNIQUE (key, subject, mac)
);
CREATE INDEX IF NOT EXISTS facts_subject ON facts(subject, kind);
CREATE INDEX IF NOT EXISTS facts_key ON facts(key, subject);
-- The access log is a Merkle log (RFC 9162): entry seq N is leaf N-1; `leaf` is its leaf hash, and
-- merkle holds the hash of every complete aligned subtree (2**level leaves from idx * 2**level), written
-- in the same transaction as the entries that complete it. checkpoints holds the signed tree heads.
CREATE TABLE IF NOT EXISTS access_log (
  seq INTEGER PRIMARY KEY,
  leaf BLOB NOT NULL,
  time TEXT NOT NULL, principal TEXT NOT NULL, serial TEXT NOT NULL, role TEXT NOT NULL,
  org TEXT NOT NULL, district TEXT NOT NULL, method TEXT NOT NULL, purpose TEXT NOT NULL,
  case_id TEXT NOT NULL, operator_id TEXT NOT NULL, subject TEXT NOT NULL, decision TEXT NOT NULL,
  reason TEXT NOT NULL, policy_version TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS access_subject ON access_log(subject);
CREATE TABLE IF NOT EXISTS merkle (
  level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
  size INTEGER PRIMARY KEY, time TEXT NOT NULL, root BLOB NOT NULL, note TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS access_principal ON access_log(principal);
-- Statistics tables as first published (I-5): frozen, because a second suppression pattern for the same
-- month, combined with the first, could reveal suppressed cells.
CREATE TABLE IF NOT EXISTS published_statistics (
  month TEXT PRIMARY KEY, time TEXT NOT NULL, body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS imports (
  id INTEGER PRIMARY KEY, time TEXT NOT NULL, bureau TEXT NOT NULL, file TEXT NOT NULL,
  sha256 TEXT NOT NULL, read INTEGER NOT NULL, accepted INTEGER NOT NULL, rejected INTEGER NOT NULL,
  duplicates INTEGER NOT NULL, rejects_file TEXT NOT NULL
);
"""
# Version 4: the other people an access-log entry is about.
ACCESS_SUBJECTS = """
-- The other people an entry is about, beyond access_log.subject (the adults named as a child's guardians):
-- one row each, so that a search by subject, a subject access report and quotas find them too.
CREATE TABLE IF NOT EXISTS access_subjects (
  seq INTEGER NOT NULL, subject TEXT NOT NULL, PRIMARY KEY (seq, subject)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS access_subjects_subject ON access_subjects(subject);
"""
# Version 5 (also made by version 4 gateways of later releases, hence IF NOT EXISTS).
REVOCATIONS = """
-- Revoked client certificates (hex serials): kept here so that losing or emptying certs/revoked.txt is
-- noticed (the server then fails closed) instead of lifting revocations. Rows are only ever added.
CREATE TABLE IF NOT EXISTS revocations (serial TEXT PRIMARY KEY, time TEXT NOT NULL);
"""
# Version 5.
OVERSIGHT = """
-- What the officers' console reads and records.
-- The console's week of calls per hour and an organisation's report count a time range; its alert list reads
-- the alert entries newest first (a partial index: alerts are few among the entries).
CREATE INDEX IF NOT EXISTS access_time ON access_log(time);
CREATE INDEX IF NOT EXISTS access_org_time ON access_log(org, time);
CREATE INDEX IF NOT EXISTS access_alerts ON access_log(seq) WHERE decision = 'alert';
-- An officer's acknowledgement of an alert entry (seq), at most one each; log_seq is the access-log entry that
-- records it. The note is free text and may name people: AES-GCM ciphertext, as the records' fields.
CREATE TABLE IF NOT EXISTS alert_acks (
  seq INTEGER PRIMARY KEY, time TEXT NOT NULL, officer TEXT NOT NULL, note_enc BLOB NOT NULL,
  log_seq INTEGER NOT NULL
);
-- Each full verification of the log (what `permitgw audit verify` checks) and its outcome (ok 1 or 0).
CREATE TABLE IF NOT EXISTS verifications (
  id INTEGER PRIMARY KEY, time TEXT NOT NULL, ok INTEGER NOT NULL, size INTEGER NOT NULL, message TEXT NOT NULL
);
"""
# Version 6: every policy pushed to the gateways sharing this database (`permitgw policy push`): its version, when
# and by whom, and the policy files themselves (a bundle) so that every replica loads the same policy.
POLICY_VERSIONS = """
CREATE TABLE policy_versions (
  version TEXT PRIMARY KEY, pushed_at TEXT NOT NULL, files TEXT NOT NULL, pushed_by TEXT NOT NULL
);
"""
# Version 8: facts clustered by person (the import's cost was the four random-order B-trees a fact row went into:
# the rowid table, UNIQUE (key, subject, mac), facts_subject and facts_key, the last a prefix of the unique one).
# The table is its own primary key, (subject, key, mac): a person's facts sit together, in the order a read of one
# person wants them, and a re-seen version is found by the key itself. `id` is no longer a rowid but still orders the
# versions (the current version of a fact is the one first seen last, highest id): the store takes the next ones
# from fact_order, inside the serialised records transaction (sql_core.SqlStore._fact_ids). The rows are copied.
FACTS_CLUSTERED = """
ALTER TABLE facts RENAME TO facts_rowid;
CREATE TABLE facts (
  subject BLOB NOT NULL,             -- blind index of a person the fact is about (one row each)
  key BLOB NOT NULL,                 -- keyed digest of the fact's natural key (domain/records.NATURAL_KEYS)
  mac BLOB NOT NULL,                 -- keyed digest of the content: identifies the version
  id INTEGER NOT NULL,               -- order first seen (fact_order): the highest of a key is the current version
  kind TEXT NOT NULL,
  body_enc BLOB NOT NULL,            -- the whole fact, encrypted (store/codec.py)
  PRIMARY KEY (subject, key, mac)
) WITHOUT ROWID;
INSERT INTO facts (subject, key, mac, id, kind, body_enc)
  SELECT subject, key, mac, id, kind, body_enc FROM facts_rowid ORDER BY subject, key, mac;
DROP TABLE facts_rowid;
-- The next facts.id to give (one row). IF NOT EXISTS and emptied first: the step is safe to run again.
CREATE TABLE IF NOT EXISTS fact_order (next INTEGER NOT NULL);
DELETE FROM fact_order;
INSERT INTO fact_order (next) SELECT coalesce(max(id), 0) + 1 FROM facts;
"""

STEPS = (
    Step(4, "access_subjects: the other people an access-log entry is about", ACCESS_SUBJECTS),
    Step(5, "revocations, and the officers' console's indexes, alert_acks and verifications", REVOCATIONS + OVERSIGHT),
    Step(6, "policy_versions: the policies pushed to the gateways sharing this database", POLICY_VERSIONS),
    Step(7, "quota and anomaly counts shared by every process on this database (quota_sql.py, anomaly_counts.py)",
         SQLITE_QUOTA_TABLES + ANOMALY_TABLES_SQLITE),
    Step(8, "facts clustered by (subject, key, mac) without a rowid, their order kept in fact_order", FACTS_CLUSTERED),
)
PLAN = Plan("sqlite", BASE_VERSION, BASE, STEPS)
# The runner's own record, made in the transaction of any creation or step (PRAGMA user_version is the version
# itself; this table says when each was applied, from version 6 on).
SCHEMA_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL);
"""
