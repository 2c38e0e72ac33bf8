"""Schema migrations: `sql/NNNN_name.sql` files applied in order, each once, in a transaction.

Each migration runs in its own transaction holding a transaction-level advisory lock, so
two processes migrating at once apply every file exactly once, and nothing holds a
session-level lock (PgBouncer transaction pooling stays safe).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from civicquant.db import Database
from civicquant.errors import ConfigError

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file shipped in the package."""

    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class MigrationState:
    """A migration and whether (and when) it was applied."""

    version: str
    name: str
    applied_at: datetime | None
    changed: bool  # applied, but the shipped file differs from what was applied


def available() -> list[Migration]:
    """The migrations shipped with this version of civicquant, in order."""
    folder = resources.files("civicquant") / "sql"
    found = []
    for entry in folder.iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(
                Migration(match.group(1), match.group(2), entry.read_text(encoding="utf-8"))
            )
    return sorted(found, key=lambda migration: migration.version)


def status(db: Database) -> list[MigrationState]:
    """Every known migration with its applied time (None when pending)."""
    applied = _applied(db)
    states = []
    for migration in available():
        row = applied.get(migration.version)
        states.append(
            MigrationState(
                migration.version,
                migration.name,
                row["applied_at"] if row else None,
                row is not None and row["checksum"] != migration.checksum,
            )
        )
    return states


def pending(db: Database) -> list[Migration]:
    """The migrations not yet applied."""
    applied = _applied(db)
    return [migration for migration in available() if migration.version not in applied]


def migrate(db: Database) -> list[Migration]:
    """Apply every pending migration; return the ones this process applied."""
    done = []
    for migration in available():
        with db.transaction():
            db.execute("lock_migrations")
            db.execute("create_schema_migrations")
            if migration.version in _applied(db):
                continue  # another process applied it while we waited for the lock
            db.execute_script(migration.sql, f"migration {migration.version}_{migration.name}")
            db.execute(
                "record_migration",
                {
                    "version": migration.version,
                    "name": migration.name,
                    "checksum": migration.checksum,
                },
            )
        done.append(migration)
    return done


def require_current(db: Database) -> None:
    """Raise ConfigError when the schema is behind this version of civicquant."""
    waiting = pending(db)
    if waiting:
        raise ConfigError(
            f"the database schema is {len(waiting)} migration(s) behind "
            f"(next: {waiting[0].version}_{waiting[0].name}); run `civicquant db migrate`"
        )


def _applied(db: Database) -> dict[str, dict[str, Any]]:
    exists = db.fetch_one("schema_migrations_exists")
    if not exists or not exists["present"]:
        return {}
    return {row["version"]: row for row in db.fetch_all("applied_migrations")}
