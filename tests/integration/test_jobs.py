from __future__ import annotations

from typing import Any

import pytest

from civicquant.config import Settings
from civicquant.db import Database
from civicquant.errors import CivicquantError, ConfigError
from civicquant.runtime.context import JobContext
from civicquant.runtime.runner import run_job


def one(db: Database, sql: str) -> dict[str, Any]:
    """The first row of a query that must return one."""
    row = db.connection.execute(sql).fetchone()
    assert row is not None
    return row


def test_successful_job_records_counts_and_releases_its_lease(
    settings: Settings, db: Database
) -> None:
    def body(ctx: JobContext) -> None:
        ctx.count("posts", 3)

    assert run_job(settings, "listen", body, lease="listen").counts == {"posts": 3}
    run = one(db, "SELECT * FROM job_runs")
    assert (run["job_name"], run["status"], run["counts"]) == ("listen", "success", {"posts": 3})
    assert run["finished_at"] is not None
    assert run["pid"] > 0
    assert run["host"]
    assert one(db, "SELECT count(*) AS n FROM leases")["n"] == 0


def test_failed_job_records_its_error_line_and_reraises(settings: Settings, db: Database) -> None:
    def body(ctx: JobContext) -> None:
        ctx.count("posts")
        raise CivicquantError("channel @x is private")

    with pytest.raises(CivicquantError):
        run_job(settings, "listen", body, lease="listen")
    run = one(db, "SELECT status, error, counts FROM job_runs")
    assert (run["status"], run["error"], run["counts"]) == (
        "failed",
        "channel @x is private",
        {"posts": 1},
    )


def test_unexpected_exception_is_recorded_as_internal_error(
    settings: Settings, db: Database
) -> None:
    def body(ctx: JobContext) -> None:
        raise ZeroDivisionError("division by zero")

    with pytest.raises(ZeroDivisionError):
        run_job(settings, "extract", body)
    run = one(db, "SELECT status, error FROM job_runs")
    assert run["error"] == "internal error: ZeroDivisionError: division by zero"


def test_secret_in_an_error_is_redacted_in_job_runs(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from civicquant import logs

    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    logs.add_secrets(["hash-4f9a2c7e1b"])

    def body(ctx: JobContext) -> None:
        raise CivicquantError(f"POST https://api.telegram.org/bot{token}/x failed; hash-4f9a2c7e1b")

    with pytest.raises(CivicquantError):
        run_job(settings, "digest:vip", body, lease="digest:vip")
    error = one(db, "SELECT error FROM job_runs")["error"]
    assert token not in error
    assert "hash-4f9a2c7e1b" not in error
    assert "[REDACTED]" in error


def test_job_refuses_to_run_on_an_unmigrated_schema(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from civicquant.config import load_settings

    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    with pytest.raises(ConfigError, match="civicquant db migrate"):
        run_job(load_settings(), "listen", lambda ctx: None)
