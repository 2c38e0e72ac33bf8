from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from civicquant.config import Settings
from civicquant.db import Database
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog
from civicquant.ops import health, health_render


def add_run(
    db: Database, job: str, status: str, minutes_ago: float, error: str | None = None
) -> None:
    db.connection.execute(
        "INSERT INTO job_runs (run_id, job_name, host, pid, status, started_at, finished_at, error) "
        "VALUES (gen_random_uuid(), %s, 'h', 1, %s, now() - %s, now() - %s, %s)",
        (job, status, timedelta(minutes=minutes_ago), timedelta(minutes=minutes_ago), error),
    )


def freshness(settings: Settings) -> dict[str, health.JobFreshness]:
    return {job.job: job for job in health.check(settings).jobs}


def test_job_states_follow_the_last_success(settings: Settings, db: Database) -> None:
    add_run(db, "extract", "success", 0.5)
    add_run(db, "listen", "success", 70)  # every 60 + 5 grace: stale until 130
    add_run(db, "prune", "success", 3000)  # every 1440 + 5: down past 2890
    jobs = freshness(settings)
    assert (jobs["extract"].state, jobs["listen"].state, jobs["prune"].state) == (
        "ok",
        "stale",
        "down",
    )
    assert jobs["digest:vip"].state == "down"
    assert jobs["digest:vip"].last_success_at is None


def test_consecutive_failures_count_since_the_last_success(
    settings: Settings, db: Database
) -> None:
    add_run(db, "extract", "failed", 10, "old failure")
    add_run(db, "extract", "success", 5)
    add_run(db, "extract", "failed", 3, "provider down")
    add_run(db, "extract", "skipped", 2)
    add_run(db, "extract", "failed", 1, "provider still down")
    job = freshness(settings)["extract"]
    assert job.consecutive_failures == 2
    assert job.last_error == "provider still down"


def test_report_exit_code_is_0_when_every_job_is_fresh(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from civicquant.config import DEFAULT_JOB_INTERVALS
    from civicquant.publish.routes import default_routes

    for job in {**DEFAULT_JOB_INTERVALS, **default_routes(settings).job_intervals()}:
        add_run(db, job, "success", 0.1)
    report = health.check(settings)
    assert report.exit_code == 0
    assert "civicquant health: OK" in health_render.render_text(report)


def test_channels_show_missing_ids_and_mark_age(settings: Settings, db: Database) -> None:
    rawlog = RawLog(db, pipeline_version="v1")
    rawlog.save_channel(Channel(7, "wirewatch"))
    posted = datetime.now(UTC) - timedelta(hours=2)
    rawlog.store(7, [RawPost(7, i, posted, text="x") for i in (1, 2, 6)], "live")
    report = health.check(settings)
    [channel] = report.channels
    assert (channel.channel, channel.missing_ids, channel.last_message_id) == ("@wirewatch", 3, 6)
    assert channel.mark_age_seconds is not None
    assert 7000 < channel.mark_age_seconds < 7400
    [queue] = report.queues
    assert (queue.pipeline_version, queue.pending) == ("v1", 3)
    text = health_render.render_prometheus(report)
    assert 'civicquant_channel_missing_ids{channel="@wirewatch"} 3' in text
    assert 'civicquant_queue_pending_jobs{pipeline_version="v1"} 3' in text


def test_old_channel_mark_is_stale_after_channel_stale_minutes(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from civicquant.config import load_settings

    rawlog = RawLog(db, pipeline_version="v1")
    rawlog.save_channel(Channel(7, "wirewatch"))
    rawlog.store(7, [RawPost(7, 1, datetime.now(UTC) - timedelta(hours=3), text="x")], "live")
    assert health.check(settings).channels[0].state == "ok"
    monkeypatch.setenv("CHANNEL_STALE_MINUTES", "60")
    assert health.check(load_settings()).channels[0].state == "stale"


def test_current_version_backlog_and_dead_jobs_are_judged_other_versions_only_reported(
    settings: Settings, db: Database
) -> None:
    rawlog = RawLog(db, pipeline_version="v1")
    rawlog.save_channel(Channel(7, "wirewatch"))
    rawlog.store(7, [RawPost(7, i, datetime.now(UTC), text=f"post {i}") for i in (1, 2)], "live")
    db.connection.execute(
        "INSERT INTO extraction_jobs (raw_message_id, pipeline_version, created_at) "
        "SELECT id, 'v9', now() - interval '2 hours' FROM raw_messages"
    )
    queues = {q.pipeline_version: q for q in health.check(settings).queues}
    assert (queues["v1"].state, queues["v9"].state) == ("ok", "ok")
    db.connection.execute("UPDATE extraction_jobs SET created_at = now() - interval '2 hours'")
    db.connection.execute(
        "UPDATE extraction_jobs SET status = 'dead' WHERE pipeline_version = 'v1' "
        "AND raw_message_id = (SELECT min(id) FROM raw_messages)"
    )
    report = health.check(settings)
    queues = {q.pipeline_version: q for q in report.queues}
    assert (queues["v1"].state, queues["v9"].state) == ("stale", "ok")
    assert queues["v1"].dead == 1


def test_stale_reservation_and_flood_waits_are_reported(settings: Settings, db: Database) -> None:
    db.connection.execute(
        "INSERT INTO published_posts (queue, chat_id, window_start, window_end, content_sha256, "
        "parts, status, reserved_by, reserved_at) VALUES ('vip', '-100', now(), now(), 'h', "
        "ARRAY['a','b'], 'reserved', 'x', now() - interval '1 hour')"
    )
    db.connection.execute(
        "INSERT INTO flood_waits (job_name, seconds, slept) VALUES ('listen', 900, false)"
    )
    checks = {c.name: c for c in health.check(settings).checks}
    assert checks["publications"].state == "stale"
    assert "1 in doubt, left reserved by a crash" in checks["publications"].detail
    assert checks["floodwait listen"].state == "stale"


def test_world_readable_env_file_gets_a_warning(
    settings: Settings, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / "cq.env"
    env.write_text("LOG_LEVEL=INFO\n")
    env.chmod(0o644)
    monkeypatch.setenv("CIVICQUANT_ENV_FILE", str(env))
    [warning] = [c for c in health.check(settings).checks if c.name == "permissions"]
    assert warning.state == "stale"
    assert "chmod 600" in warning.detail
    env.chmod(0o600)
    assert [c for c in health.check(settings).checks if c.name == "permissions"] == []
