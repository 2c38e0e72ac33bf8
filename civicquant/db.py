"""The database seam: one connection, named queries, dict rows, civicquant's own errors.

Services receive a `Database`; they never call psycopg.connect themselves. The connection
is in autocommit mode and transactions are explicit (`with db.transaction():`), so nothing
is held open between statements and civicquant works through PgBouncer in transaction
pooling mode (with DB_PREPARED_STATEMENTS=0).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from civicquant.errors import (
    CivicquantError,
    ConfigError,
    DatabaseError,
    DatabaseUnavailable,
    UsageError,
)
from civicquant.queries import query

if TYPE_CHECKING:
    from civicquant.config import Settings
    from civicquant.embedded import StopResult

Row = dict[str, Any]
UNPARSABLE = "an unparsable DATABASE_URL"


def describe_url(url: str) -> str:
    """Where a URL points, for messages: host, port and database, never the password."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return UNPARSABLE
    host = str(parts.get("host") or "localhost")
    port = parts.get("port")
    dbname = parts.get("dbname") or parts.get("user") or ""
    where = f"{host}:{port}" if port and not host.startswith("/") else host
    return f"{where}/{dbname}" if dbname else where


class Database:
    """A psycopg connection behind named queries returning dict rows."""

    def __init__(
        self, conn: psycopg.Connection[Row], where: str, reconnect: dict[str, Any] | None = None
    ) -> None:
        self._conn = conn
        self.where = where
        self._reconnect = reconnect  # how to open another connection like this one

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        prepared_statements: bool = True,
        application_name: str = "civicquant",
        connect_timeout: int = 10,
        dead_server_seconds: float | None = None,
    ) -> Database:
        """Open a connection, or raise DatabaseUnavailable naming the host.

        With `dead_server_seconds`, a TCP connection whose server stops answering (its
        network path went away: a link down, a partition) fails after about that long
        instead of blocking until the kernel gives up, some 15 minutes later.
        """
        where = describe_url(url)
        if where == UNPARSABLE:
            # libpq would quote the bad URL, password and all, in its error: never pass it on.
            raise ConfigError("DATABASE_URL is not a valid PostgreSQL URL or connection string")
        try:
            conn = psycopg.connect(
                url,
                autocommit=True,
                row_factory=dict_row,
                # None disables server-side prepared statements (PgBouncer transaction mode).
                prepare_threshold=5 if prepared_statements else None,
                application_name=application_name,
                connect_timeout=connect_timeout,
                **_dead_server_options(dead_server_seconds),
            )
        except psycopg.Error as exc:
            raise DatabaseUnavailable(
                f"database unreachable at {where}: {_first_line(exc)}"
            ) from None
        options = {
            "url": url,
            "prepared_statements": prepared_statements,
            "connect_timeout": connect_timeout,
            "dead_server_seconds": dead_server_seconds,
        }
        return cls(conn, where, options)

    def open_sibling(self, application_name: str) -> Database:
        """Another connection to the same database (for a heartbeat or a LISTEN)."""
        if self._reconnect is None:
            raise DatabaseError("this connection was not opened by Database.connect")
        options = dict(self._reconnect)
        url = str(options.pop("url"))
        return Database.connect(url, application_name=application_name, **options)

    # -- statements -------------------------------------------------------------------

    def execute(
        self, name: str, params: Mapping[str, Any] | None = None, *, binary: bool = False
    ) -> int:
        """Run a named statement; return the number of rows it touched.

        `binary` sends the parameters in PostgreSQL's binary format: for bulk statements
        over arrays (thousands of values) it is several times faster than quoting each
        value as text. Every parameter must then be cast in the SQL (`%(ids)s::bigint[]`).
        """
        with self._cursor(name) as cur:
            cur.execute(_statement(name, binary), params or {})
            return cur.rowcount

    def fetch_one(
        self, name: str, params: Mapping[str, Any] | None = None, *, binary: bool = False
    ) -> Row | None:
        """Run a named query and return its first row, or None."""
        with self._cursor(name) as cur:
            cur.execute(_statement(name, binary), params or {})
            return cur.fetchone()

    def fetch_all(
        self, name: str, params: Mapping[str, Any] | None = None, *, binary: bool = False
    ) -> list[Row]:
        """Run a named query and return all its rows."""
        with self._cursor(name) as cur:
            cur.execute(_statement(name, binary), params or {})
            return cur.fetchall()

    def deadlock_victim(self, exc: DatabaseError) -> bool:
        """Whether a failed statement lost a deadlock outside any transaction.

        Such a statement rolled back whole and nothing else was undone with it, so running it
        again is safe; inside a transaction the whole transaction must be retried instead.
        """
        return (
            isinstance(exc.__cause__, psycopg.errors.DeadlockDetected)
            and self._conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        )

    def use_generic_plans(self, on: bool = True) -> bool:
        """Plan each prepared statement once for this session (off: PostgreSQL's default).

        Only for a connection running statements whose best plan does not depend on their
        parameters (the queue's): there, planning each execution anew costs more than running
        it. Without prepared statements (PgBouncer in transaction mode) nothing is cached and
        a session setting would leak to other clients, so it does nothing and returns False.
        """
        if self._conn.prepare_threshold is None:
            return False
        self.execute("use_generic_plans" if on else "use_custom_plans")
        return True

    def execute_script(self, sql_text: str, label: str) -> None:
        """Run a whole SQL script (a migration); `label` names it in errors."""
        with self._cursor(label) as cur:
            cur.execute(sql_text.encode("utf-8"))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A transaction: commit on success, roll back on any exception."""
        try:
            with self._conn.transaction():
                yield
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(
                f"lost the database at {self.where}: {_first_line(exc)}"
            ) from None

    @contextmanager
    def _cursor(self, label: str) -> Iterator[psycopg.Cursor[Row]]:
        try:
            with self._conn.cursor() as cur:
                yield cur
        except psycopg.OperationalError as exc:
            if self._conn.closed or self._conn.broken:
                raise DatabaseUnavailable(
                    f"lost the database at {self.where}: {_first_line(exc)}"
                ) from None
            raise self._error(label, exc) from exc
        except psycopg.Error as exc:
            raise self._error(label, exc) from exc

    def _error(self, label: str, exc: psycopg.Error) -> CivicquantError:
        """A failed statement as our error; a pooler that loses prepared statements named."""
        if self._conn.prepare_threshold is not None and _lost_prepared_statement(exc):
            return ConfigError(
                f"{label}: {_first_line(exc)}: the server connection changed under this"
                " session, as behind PgBouncer in transaction pooling mode; set"
                f" DB_PREPARED_STATEMENTS=0 (database at {self.where})"
            )
        return DatabaseError(f"{label}: {_first_line(exc)}")

    @property
    def connection(self) -> psycopg.Connection[Row]:
        """The underlying connection, for LISTEN/NOTIFY and COPY, which have their own APIs."""
        return self._conn

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        self._conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def database_url(settings: Settings) -> str:
    """DATABASE_URL, or the embedded server's URL (starting it if needed)."""
    if settings.database_url:
        return settings.database_url
    from civicquant.embedded import server_url

    return server_url(settings.home)


def stop_embedded(settings: Settings) -> StopResult:
    """Stop the embedded server of CIVICQUANT_HOME; never a server named by DATABASE_URL."""
    if settings.database_url:
        raise UsageError(
            "DATABASE_URL is set: db stop stops only the embedded PostgreSQL civicquant"
            " starts when it is unset, never another server"
        )
    from civicquant.embedded import stop

    return stop(settings.home)


def open_database(settings: Settings, *, application_name: str = "civicquant") -> Database:
    """Connect to the configured database (embedded when DATABASE_URL is unset).

    A connection gives up on a server that stops answering after half a lease TTL: a
    lease holder cut off from the database must find within the TTL that it cannot renew
    (its heartbeat then stops the job) and that its statements fail, not block in them
    until the cut heals, holding its Telegram session while a standby opens the same one.
    Half, because the kernel checks the limit only when it retransmits, with doubling
    gaps: the error comes up to twice the limit after the last answer.
    """
    return Database.connect(
        database_url(settings),
        prepared_statements=settings.db_prepared_statements,
        application_name=application_name,
        connect_timeout=settings.db_connect_timeout_seconds,
        dead_server_seconds=settings.lease_ttl_seconds / 2,
    )


def _dead_server_options(seconds: float | None) -> dict[str, Any]:
    """libpq's TCP options that end a connection after `seconds` without an answer.

    `tcp_user_timeout` bounds how long sent data may stay unacknowledged; keepalive probes
    (a third of it apart) make it apply while waiting for a reply, too. A busy server still
    acknowledges both, so a long statement is not cut short. Unix sockets ignore them.
    """
    if seconds is None:
        return {}
    probe = max(1, int(seconds // 3))
    return {
        "keepalives": 1,
        "keepalives_idle": probe,
        "keepalives_interval": probe,
        "keepalives_count": 3,
        "tcp_user_timeout": max(1000, int(seconds * 1000)),
    }


def hostname() -> str:
    """This host's name, as recorded in leases and job runs."""
    return socket.gethostname()


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@cache
def _statement(name: str, binary: bool) -> str:
    text = query(name)
    return _PLACEHOLDER.sub(r"%(\1)b", text) if binary else text


# A session's own prepared statement gone, or one of its names taken: only a pooler that hands
# each transaction another server connection does that (measured through PgBouncer 1.18 in
# tests/reliability/test_pgbouncer.py: 230 of 400 rounds of two queries failed so).
_LOST_PREPARED_STATEMENT = frozenset({"26000", "42P05"})


def _lost_prepared_statement(exc: psycopg.Error) -> bool:
    if exc.sqlstate in _LOST_PREPARED_STATEMENT:
        return True
    # A statement under our name but with other parameters, on another client's connection.
    return exc.sqlstate == "08P01" and "prepared statement" in str(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
