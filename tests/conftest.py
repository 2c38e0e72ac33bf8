"""Shared fixtures: a real PostgreSQL with a migrated template, a fresh database per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import pg

ENV_PREFIXES = ("TG_", "LLM_", "DATABASE_URL", "CIVICQUANT_", "LOG_", "DIGEST_", "EXTRACT")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's settings or .env; each gets its own CIVICQUANT_HOME."""
    for key in list(os.environ):
        if key.startswith(ENV_PREFIXES) and key != "CIVICQUANT_TEST_DATABASE_URL":
            monkeypatch.delenv(key)
    monkeypatch.setenv("CIVICQUANT_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def stable_tmp() -> Iterator[Path]:
    """A temp folder outside pytest's tmp rotation, for data a live server keeps using."""
    import shutil
    import tempfile

    parent = Path(__file__).resolve().parents[1] / ".pytest_pg"
    parent.mkdir(exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="cq-home-", dir=parent))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The maintenance URL of the session's PostgreSQL server."""
    with pg.server_url(Path(__file__).resolve().parents[1] / ".pytest_pg") as (url, _source):
        yield url


@pytest.fixture(scope="session")
def template_db(pg_server: str) -> Iterator[str]:
    """A database migrated once per session, copied for each test."""
    from civicquant import migrations
    from civicquant.db import Database

    name = pg.create_database(pg_server)
    with Database.connect(pg.with_dbname(pg_server, name)) as db:
        migrations.migrate(db)
    yield name
    pg.drop_database(pg_server, name)


@pytest.fixture
def database_url(pg_server: str, template_db: str) -> Iterator[str]:
    """A fresh, migrated database of this test's own."""
    name = pg.create_database(pg_server, template=template_db)
    yield pg.with_dbname(pg_server, name)
    pg.drop_database(pg_server, name)


@pytest.fixture
def empty_database_url(pg_server: str) -> Iterator[str]:
    """A fresh database with no schema at all."""
    name = pg.create_database(pg_server)
    yield pg.with_dbname(pg_server, name)
    pg.drop_database(pg_server, name)


@pytest.fixture
def db(database_url: str) -> Iterator[object]:
    from civicquant.db import Database

    with Database.connect(database_url) as database:
        yield database


@pytest.fixture
def settings(database_url: str, monkeypatch: pytest.MonkeyPatch) -> object:
    from civicquant.config import load_settings

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("LEASE_TTL_SECONDS", "5")
    return load_settings()
