-- create_schema_migrations --
-- The ledger of applied migrations; created inside the migration lock.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- lock_migrations --
-- Serialise migrators for the rest of this transaction (no session lock: PgBouncer-safe).
SELECT pg_advisory_xact_lock(7238447301);

-- schema_migrations_exists --
-- Whether the ledger exists yet.
SELECT to_regclass('schema_migrations') IS NOT NULL AS present;

-- applied_migrations --
-- Every applied migration, oldest first.
SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version;

-- record_migration --
-- Mark one migration applied.
INSERT INTO schema_migrations (version, name, checksum)
VALUES (%(version)s, %(name)s, %(checksum)s);
