"""The PostgreSQL schema's history: the base (version 1) and the steps since, for the runner in migrations.py.

PostgreSQL DDL is transactional, so each step (and a fresh schema: the base and every step) is all or nothing. The
comments of migrations_sqlite.py apply table by table. Adding a step: write its DDL as a constant and append
`Step(N, "what it adds", DDL)` to STEPS (N = the last version + 1).
"""
from __future__ import annotations

from gateway.store.anomaly_counts import ANOMALY_TABLES_POSTGRES
from gateway.store.migrations import Plan, Step
from gateway.store.quota_sql import POSTGRES_QUOTA_TABLES

BASE_VERSION = 1
# Dates and times are ISO text in the "C" collation (ctext), so they sort and compare bytewise, as in SQLite.
BASE = """
CREATE DOMAIN ctext AS text COLLATE "C";
CREATE TABLE persons (
  subject BYTEA PRIMARY KEY, id_enc BYTEA NOT NULL, name_enc BYTEA NOT NULL,
  sex ctext NOT NULL, birth_date ctext NOT NULL, hukou_region ctext, talent ctext, mac BYTEA NOT NULL
);
CREATE TABLE registrations (
  subject BYTEA NOT NULL, district ctext NOT NULL, declared_on ctext NOT NULL,
  address_enc BYTEA NOT NULL, housing_type ctext NOT NULL, mac BYTEA NOT NULL,
  PRIMARY KEY (subject, district, declared_on)
);
CREATE TABLE permits (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  permit_key BYTEA NOT NULL, subject BYTEA NOT NULL, permit_no_enc BYTEA NOT NULL, district ctext NOT NULL,
  issued_on ctext NOT NULL, valid_until ctext NOT NULL, endorsed_on ctext, state ctext NOT NULL,
  mac BYTEA NOT NULL,
  UNIQUE (permit_key, mac)
);
CREATE INDEX permits_subject ON permits(subject);
CREATE TABLE guardianships (
  child BYTEA NOT NULL, guardian BYTEA NOT NULL, source ctext NOT NULL,
  guardian_enc BYTEA NOT NULL, relation ctext NOT NULL, mac BYTEA NOT NULL,
  PRIMARY KEY (child, guardian, source)
);
CREATE INDEX guardianships_guardian ON guardianships(guardian);
CREATE TABLE facts (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  key BYTEA NOT NULL, subject BYTEA NOT NULL, kind ctext NOT NULL, body_enc BYTEA NOT NULL, mac BYTEA NOT NULL,
  UNIQUE (key, subject, mac)
);
CREATE INDEX facts_subject ON facts(subject, kind);
CREATE INDEX facts_key ON facts(key, subject);
CREATE TABLE access_log (
  seq BIGINT PRIMARY KEY,
  leaf BYTEA NOT NULL,
  time ctext NOT NULL, principal ctext NOT NULL, serial ctext NOT NULL, role ctext NOT NULL,
  org ctext NOT NULL, district ctext NOT NULL, method ctext NOT NULL, purpose ctext NOT NULL,
  case_id ctext NOT NULL, operator_id ctext NOT NULL, subject ctext NOT NULL, decision ctext NOT NULL,
  reason ctext NOT NULL, policy_version ctext NOT NULL
);
CREATE INDEX access_subject ON access_log(subject);
CREATE INDEX access_principal ON access_log(principal);
CREATE INDEX access_time ON access_log(time);
CREATE TABLE merkle (
  level INTEGER NOT NULL, idx BIGINT NOT NULL, hash BYTEA NOT NULL, PRIMARY KEY (level, idx)
);
CREATE TABLE checkpoints (
  size BIGINT PRIMARY KEY, time ctext NOT NULL, root BYTEA NOT NULL, note TEXT NOT NULL
);
CREATE TABLE published_statistics (
  month ctext PRIMARY KEY, time ctext NOT NULL, body TEXT NOT NULL
);
CREATE TABLE imports (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, time ctext NOT NULL, bureau ctext NOT NULL,
  file TEXT NOT NULL, sha256 ctext NOT NULL, read BIGINT NOT NULL, accepted BIGINT NOT NULL,
  rejected BIGINT NOT NULL, duplicates BIGINT NOT NULL, rejects_file TEXT NOT NULL
);
CREATE TABLE schema_version (version INTEGER NOT NULL);
"""
# Version 2: the other people an access-log entry is about.
ACCESS_SUBJECTS = """
CREATE TABLE access_subjects (
  seq BIGINT NOT NULL, subject ctext NOT NULL, PRIMARY KEY (seq, subject)
);
CREATE INDEX access_subjects_subject ON access_subjects(subject);
"""
# Version 3: the officers' console.
OVERSIGHT = """
CREATE INDEX IF NOT EXISTS access_org_time ON access_log(org, time);
CREATE INDEX IF NOT EXISTS access_alerts ON access_log(seq) WHERE decision = 'alert';
CREATE TABLE IF NOT EXISTS alert_acks (
  seq BIGINT PRIMARY KEY, time ctext NOT NULL, officer ctext NOT NULL, note_enc BYTEA NOT NULL,
  log_seq BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS verifications (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, time ctext NOT NULL, ok INTEGER NOT NULL,
  size BIGINT NOT NULL, message TEXT NOT NULL
);
"""
# Version 3 too: revoked certificates, also made by version 1 and 2 gateways of later releases (hence IF NOT EXISTS).
REVOCATIONS = """
CREATE TABLE IF NOT EXISTS revocations (serial ctext PRIMARY KEY, time ctext NOT NULL);
"""
# Version 4: every policy pushed to the gateways sharing this schema (`permitgw policy push`); see
# migrations_sqlite.py.
POLICY_VERSIONS = """
CREATE TABLE policy_versions (
  version ctext PRIMARY KEY, pushed_at ctext NOT NULL, files TEXT NOT NULL, pushed_by ctext NOT NULL
);
"""
# Version 6: facts_key (key, subject) was a prefix of the unique index (key, subject, mac), so every insert kept a
# second random-order B-tree for nothing; and facts.id is given by the store from fact_order, as on SQLite (see
# migrations_sqlite.py, version 8), so that both stores run one save path. Safe to run again (IF EXISTS).
FACTS_ORDER = """
DROP INDEX IF EXISTS facts_key;
ALTER TABLE facts ALTER COLUMN id DROP IDENTITY IF EXISTS;
CREATE TABLE IF NOT EXISTS fact_order (next BIGINT NOT NULL);
DELETE FROM fact_order;
INSERT INTO fact_order (next) SELECT coalesce(max(id), 0) + 1 FROM facts;
"""

STEPS = (
    Step(2, "access_subjects: the other people an access-log entry is about", ACCESS_SUBJECTS),
    Step(3, "the officers' console's indexes, alert_acks and verifications; revocations",
         OVERSIGHT + REVOCATIONS),
    Step(4, "policy_versions: the policies pushed to the gateways sharing this schema", POLICY_VERSIONS),
    Step(5, "quota and anomaly counts shared by every gateway on this schema (quota_sql.py, anomaly_counts.py)",
         POSTGRES_QUOTA_TABLES + ANOMALY_TABLES_POSTGRES),
    Step(6, "facts: the redundant index facts_key dropped, their order kept in fact_order", FACTS_ORDER),
)
PLAN = Plan("postgres", BASE_VERSION, BASE, STEPS)
# The runner's own record (table schema_version of the base, version 1, gains the time each version was applied;
# rows from before have none). Run in the transaction of any creation or step.
SCHEMA_VERSION_TABLE = """
ALTER TABLE schema_version ADD COLUMN IF NOT EXISTS applied_at ctext;
"""
