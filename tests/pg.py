"""Where the tests' PostgreSQL comes from: an explicit URL, testcontainers, or embedded."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo


def docker_answers() -> bool:
    """True when a Docker engine responds (the client alone is not enough)."""
    if not Path("/var/run/docker.sock").exists() and not os.environ.get("DOCKER_HOST"):
        return False
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


@contextmanager
def server_url(workdir: Path) -> Iterator[tuple[str, str]]:
    """Yield (maintenance URL, how it was found) for the test session's server."""
    explicit = os.environ.get("CIVICQUANT_TEST_DATABASE_URL")
    if explicit:
        yield explicit, "CIVICQUANT_TEST_DATABASE_URL"
        return
    if docker_answers():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as container:
            yield container.get_connection_url(), "testcontainers"
        return
    from civicquant import embedded

    # Not under pytest's tmp_path: pytest deletes old tmp folders from concurrent
    # sessions, which would pull the data directory out from under a running server.
    workdir.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="cq-pg-", dir=workdir))
    try:
        yield embedded.server_url(home, database="postgres"), "embedded"
    finally:
        remove_embedded(home)
        shutil.rmtree(home, ignore_errors=True)


def remove_embedded(home: Path) -> None:
    """Stop the embedded server of CIVICQUANT_HOME `home` and delete its data dir."""
    from civicquant import embedded

    data_dir = embedded.stop(home).data_dir
    if data_dir.is_relative_to(embedded.ROOT_STATE / "embedded"):
        shutil.rmtree(data_dir.parent, ignore_errors=True)  # root's: outside `home`
    else:
        shutil.rmtree(data_dir, ignore_errors=True)


def with_dbname(url: str, dbname: str) -> str:
    return make_conninfo(url, dbname=dbname)


def create_database(maintenance_url: str, template: str | None = None) -> str:
    name = f"cq_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        if template:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
        else:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def drop_database(maintenance_url: str, name: str) -> None:
    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
