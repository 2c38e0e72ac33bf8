"""The shipped dashboard and alert rules: printed by the CLI, over metrics health writes.

promtool (Debian's `prometheus` package) checks the rules and runs their unit tests
(`civicquant/monitoring/tests/alerts_test.yml`) when it is installed; `.ci/run` installs it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from civicquant import __version__
from civicquant.cli import app
from civicquant.ops import monitoring
from civicquant.ops.health import (
    ActiveFloodWait,
    ChannelLag,
    Check,
    ExtractionJobs,
    FloodWaits,
    HealthReport,
    JobFreshness,
    MessagesSent,
    PostsStored,
    QueueBacklog,
)
from civicquant.ops.health_render import render_prometheus

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FOLDER = Path(str(monitoring.folder()))
METRIC = re.compile(r"\bcivicquant_[a-z0-9_]+\b")


def full_report() -> HealthReport:
    """A report with every section filled, so every metric family has samples."""
    return HealthReport(
        checked_at=NOW,
        pipeline_version="v1",
        checks=[Check("database", "ok", "reachable"), Check("publications", "stale", "1 in doubt")],
        jobs=[
            JobFreshness(
                "listen", "stale", 60, NOW - timedelta(hours=2), 7200.0, 0, "success", None
            ),
            JobFreshness("extract", "ok", 1, NOW, 10.0, 3, "failed", "provider down"),
        ],
        channels=[ChannelLag("ok", "@wirewatch", 7, 120, 600.0, 60.0, 3)],
        queues=[QueueBacklog("ok", "v1", 5, 1, 0, 90.0)],
        posts_stored=[
            PostsStored("@wirewatch", "live", 100),
            PostsStored("@wirewatch", "export", 20),
        ],
        extraction_jobs=[ExtractionJobs("v1", "ok", 110), ExtractionJobs("v1", "dead", 2)],
        messages_sent=[MessagesSent("vip", 6)],
        flood_waits=[FloodWaits("listen", 2, 40)],
        active_flood_waits=[
            ActiveFloodWait("/srv/tg.session", "GetHistoryRequest", "listen", 30.0)
        ],
        publications_in_doubt=1,
    )


def rendered_families(text: str) -> dict[str, int]:
    """{metric family: number of samples} in a Prometheus textfile."""
    families = {line.split()[2]: 0 for line in text.splitlines() if line.startswith("# TYPE ")}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            families[re.split(r"[{ ]", line, maxsplit=1)[0]] += 1
    return families


def rule_expressions(text: str) -> dict[str, str]:
    """{alert: expr} from the rules file (inline `expr:` or a `|` block under it)."""
    found: dict[str, str] = {}
    lines = text.splitlines()
    alert = None
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("- alert:"):
            alert = stripped.split(":", 1)[1].strip()
        elif stripped.startswith("expr:") and alert is not None:
            value = stripped.split(":", 1)[1].strip()
            if value == "|":
                indent = len(line) - len(line.lstrip())
                block = []
                for following in lines[index + 1 :]:
                    if following.strip() and len(following) - len(following.lstrip()) <= indent:
                        break
                    block.append(following.strip())
                value = " ".join(filter(None, block))
            found[alert] = value
    return found


def dashboard_expressions(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, expr) for every query of every panel."""
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def test_the_full_report_fixture_has_samples_of_every_metric_family() -> None:
    families = rendered_families(render_prometheus(full_report()))
    assert [name for name, samples in families.items() if samples == 0] == []


def test_prometheus_output_carries_the_build_version_and_the_dashboard_counts() -> None:
    text = render_prometheus(full_report())
    assert f'civicquant_build_info{{version="{__version__}"}} 1' in text
    assert 'civicquant_current_pipeline_version{pipeline_version="v1"} 1' in text
    assert 'civicquant_posts_stored{channel="@wirewatch",source="export"} 20' in text
    assert 'civicquant_extraction_jobs{pipeline_version="v1",status="dead"} 2' in text
    assert 'civicquant_messages_sent{queue="vip"} 6' in text
    assert "civicquant_publications_in_doubt 1" in text
    assert 'civicquant_flood_waits_last_day{job="listen"} 2' in text


def test_a_report_without_a_database_writes_no_publication_count() -> None:
    down = HealthReport(checked_at=NOW, checks=[Check("database", "down", "unreachable")])
    families = rendered_families(render_prometheus(down))
    assert families["civicquant_publications_in_doubt"] == 0
    assert families["civicquant_build_info"] == 1


def test_build_version_matches_the_installed_distribution() -> None:
    from importlib.metadata import version

    assert version("civicquant") == __version__


def test_monitoring_dashboard_prints_the_shipped_dashboard_as_json() -> None:
    result = CliRunner().invoke(app, ["monitoring", "dashboard"])
    assert result.exit_code == 0, result.output
    assert result.output == (FOLDER / "dashboard.json").read_text(encoding="utf-8")
    dashboard = json.loads(result.output)
    assert dashboard["uid"] == "civicquant"
    assert {t["name"] for t in dashboard["templating"]["list"]} == {"datasource", "instance"}


def test_monitoring_rules_prints_the_shipped_rules() -> None:
    result = CliRunner().invoke(app, ["monitoring", "rules"])
    assert result.exit_code == 0, result.output
    assert result.output == (FOLDER / "alerts.yml").read_text(encoding="utf-8")
    assert set(rule_expressions(result.output)) == {
        "CivicquantHealthReportStale",
        "CivicquantHealthReportMissing",
        "CivicquantDatabaseDown",
        "CivicquantJobStale",
        "CivicquantJobDown",
        "CivicquantJobFailing",
        "CivicquantExtractionBacklogOld",
        "CivicquantChannelLagging",
        "CivicquantPublicationInDoubt",
    }


def test_every_dashboard_panel_queries_metrics_that_health_writes() -> None:
    families = rendered_families(render_prometheus(full_report()))
    dashboard = json.loads(monitoring.dashboard())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert panels
    for panel in panels:
        assert panel.get("targets"), panel["title"]
    for title, expr in dashboard_expressions(dashboard):
        names = METRIC.findall(expr)
        assert names, (title, expr)
        assert set(names) <= set(families), (title, set(names) - set(families))


def test_every_alert_rule_reads_metrics_that_health_writes() -> None:
    families = rendered_families(render_prometheus(full_report()))
    for alert, expr in rule_expressions(monitoring.alert_rules()).items():
        names = METRIC.findall(expr)
        assert names, alert
        assert set(names) <= set(families), (alert, set(names) - set(families))


def test_the_dashboard_covers_what_the_issue_asks_for() -> None:
    used = {
        name
        for _, expr in dashboard_expressions(json.loads(monitoring.dashboard()))
        for name in METRIC.findall(expr)
    }
    assert {
        "civicquant_job_last_success_timestamp_seconds",  # job freshness
        "civicquant_job_consecutive_failures",
        "civicquant_queue_pending_jobs",  # backlog per pipeline version
        "civicquant_queue_oldest_pending_age_seconds",  # and its age
        "civicquant_posts_stored",  # posts ingested per channel
        "civicquant_channel_high_water_mark_age_seconds",  # channel lag
        "civicquant_flood_waits_last_day",
        "civicquant_publications_in_doubt",
        "civicquant_extraction_jobs",
        "civicquant_messages_sent",
        "civicquant_build_info",
    } <= used


PROMTOOL = shutil.which("promtool") or "promtool"
needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="promtool not installed (Debian's prometheus package; .ci/run installs it)",
)


@needs_promtool
def test_promtool_check_rules_accepts_the_shipped_rules() -> None:
    result = subprocess.run(
        [PROMTOOL, "check", "rules", str(FOLDER / "alerts.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 9 rules found" in result.stdout


@needs_promtool
def test_promtool_unit_tests_of_every_alert_pass() -> None:
    tests = FOLDER / "tests" / "alerts_test.yml"
    result = subprocess.run(
        [PROMTOOL, "test", "rules", tests.name],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tests.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rule_unit_tests_cover_every_alert_firing() -> None:
    tests = (FOLDER / "tests" / "alerts_test.yml").read_text(encoding="utf-8")
    alerts = set(rule_expressions(monitoring.alert_rules()))
    # An alert is shown firing where its test expects it with labels.
    firing = set(re.findall(r"alertname: (\w+)\n\s+exp_alerts:\n\s+- exp_labels", tests))
    silent = set(re.findall(r"alertname: (\w+)\n\s+exp_alerts: \[\]", tests))
    assert firing == alerts
    assert silent == alerts
