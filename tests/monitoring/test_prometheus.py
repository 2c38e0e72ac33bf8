"""The shipped alert rules and dashboard, end to end in a real Prometheus.

`civicquant health --format prometheus --output FILE` (the installed executable, as cron
runs it) writes a textfile from a real database in states that should alert: `listen`
stale, `extract` failed three runs in a row, a publication in doubt. Debian's
node_exporter serves it with only its textfile collector; Debian's Prometheus scrapes it
every second with the rules `civicquant monitoring rules` prints, evaluated every second,
under its default `honor_labels: false` (so civicquant's `job` label arrives as
`exported_job`). The test polls the HTTP API, bounded, until the alerts are pending or
firing, then checks that every rule evaluates cleanly and every dashboard query runs.

Needs `prometheus` and `prometheus-node-exporter` (Debian packages: `.ci/run` installs
them; `make test-monitoring` runs this). Takes a few seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from civicquant.db import Database
from civicquant.ops import monitoring

CIVICQUANT = Path(sys.executable).parent / "civicquant"
PROMETHEUS = shutil.which("prometheus")
NODE_EXPORTER = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
# Long enough for a slow, shared CI machine to start both servers and scrape twice; the
# test returns as soon as the alerts are there (a second or two here).
WAIT_SECONDS = 90

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None or NODE_EXPORTER is None,
    reason="needs Debian's prometheus and prometheus-node-exporter "
    "(apt-get install prometheus prometheus-node-exporter; .ci/run installs them)",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def add_run(db: Database, job: str, status: str, minutes_ago: float) -> None:
    db.connection.execute(
        "INSERT INTO job_runs (run_id, job_name, host, pid, status, started_at, finished_at) "
        "VALUES (gen_random_uuid(), %s, 'h', 1, %s, now() - %s, now() - %s)",
        (job, status, timedelta(minutes=minutes_ago), timedelta(minutes=minutes_ago)),
    )


def write_textfile(database_url: str, textfile: Path, home: Path) -> int:
    """Run `civicquant health` as cron does; return its exit status."""
    done = subprocess.run(
        [str(CIVICQUANT), "health", "--format", "prometheus", "--output", str(textfile)],
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "DATABASE_URL": database_url,
            "CIVICQUANT_HOME": str(home),
            "LANG": "C.UTF-8",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stderr == "", done.stderr
    return done.returncode


class Server:
    """A server process of the test's own, its output in a log file, stopped by its pid."""

    def __init__(self, argv: list[str], log: Path) -> None:
        self.log = log
        self.name = Path(argv[0]).name
        self._log_handle = log.open("w")
        self.process = subprocess.Popen(
            argv, stdout=self._log_handle, stderr=subprocess.STDOUT, start_new_session=True
        )

    def check_alive(self) -> None:
        code = self.process.poll()
        assert code is None, f"{self.name} exited {code}:\n{self.log.read_text()}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self._log_handle.close()


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in reversed(started):
        server.stop()


def api(port: int, path: str, **params: str) -> Any:
    url = f"http://127.0.0.1:{port}{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=5) as answer:
        payload = json.load(answer)
    assert payload["status"] == "success", payload
    return payload["data"]


def poll(port: int, path: str, watched: list[Server], ready: Any) -> Any:
    """GET path until ready(data) is truthy; bounded by WAIT_SECONDS, not a timing assertion."""
    deadline = time.monotonic() + WAIT_SECONDS
    last: Any = None
    while time.monotonic() < deadline:
        for server in watched:
            server.check_alive()
        try:
            last = api(port, path)
        except OSError:  # not listening yet
            last = None
        if last is not None and ready(last):
            return last
        time.sleep(0.5)
    pytest.fail(f"{path} not ready after {WAIT_SECONDS}s; last answer: {last}")


def test_prometheus_scraping_the_health_textfile_raises_the_shipped_alerts(
    database_url: str, db: Database, tmp_path: Path, servers: list[Server]
) -> None:
    add_run(db, "listen", "success", 70)  # every 60 min + 5 grace: stale
    add_run(db, "listen", "failed", 60)
    add_run(db, "listen", "failed", 50)
    add_run(db, "extract", "success", 10)
    for minutes_ago in (3, 2, 1):
        add_run(db, "extract", "failed", minutes_ago)
    db.connection.execute(
        "INSERT INTO published_posts (queue, chat_id, window_start, window_end, content_sha256, "
        "parts, message_ids, status, reserved_by, reserved_at) VALUES ('vip', '-100', now(), "
        "now(), 'h', ARRAY['a','b'], '{7}', 'reserved', 'x', now() - interval '1 hour')"
    )
    textfiles = tmp_path / "textfile"
    textfiles.mkdir()
    # digest:vip and the others never ran: down, so health exits 2.
    assert write_textfile(database_url, textfiles / "civicquant.prom", tmp_path / "home") == 2

    exporter_port, prometheus_port = free_port(), free_port()
    assert NODE_EXPORTER is not None
    assert PROMETHEUS is not None
    servers.append(
        Server(
            [
                NODE_EXPORTER,
                "--collector.disable-defaults",
                "--collector.textfile",
                f"--collector.textfile.directory={textfiles}",
                f"--web.listen-address=127.0.0.1:{exporter_port}",
            ],
            tmp_path / "node_exporter.log",
        )
    )
    rules = tmp_path / "civicquant-rules.yml"
    rules.write_text(monitoring.alert_rules(), encoding="utf-8")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {rules}\n"
        "scrape_configs:\n  - job_name: node\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{exporter_port}']\n",
        encoding="utf-8",
    )
    servers.append(
        Server(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prometheus_port}",
            ],
            tmp_path / "prometheus.log",
        )
    )

    def state(data: dict[str, Any], alertname: str, job: str | None = None) -> str | None:
        """The state of the alert named so (and for that civicquant job), None when absent."""
        for alert in data["alerts"]:
            labels = alert["labels"]
            if labels["alertname"] == alertname and job in (None, labels.get("job")):
                return str(alert["state"])
        return None

    expected = {
        ("CivicquantJobFailing", "extract"): {"firing"},
        ("CivicquantPublicationInDoubt", None): {"firing"},
        ("CivicquantJobStale", "listen"): {"pending", "firing"},
        ("CivicquantJobDown", "digest:vip"): {"pending", "firing"},
    }
    data = poll(
        prometheus_port,
        "/api/v1/alerts",
        servers,
        lambda data: all(state(data, *key) in want for key, want in expected.items()),
    )
    # A fresh textfile, a reachable database, two failures of listen: these stay quiet.
    assert state(data, "CivicquantHealthReportStale") is None
    assert state(data, "CivicquantHealthReportMissing") is None
    assert state(data, "CivicquantDatabaseDown") is None
    assert state(data, "CivicquantJobFailing", "listen") is None

    groups = api(prometheus_port, "/api/v1/rules")["groups"]
    evaluated = [rule for group in groups for rule in group["rules"]]
    assert len(evaluated) == 9
    assert [(r["name"], r.get("lastError")) for r in evaluated if r["health"] != "ok"] == []

    # Every dashboard query runs in this Prometheus (all hosts selected).
    dashboard = json.loads(monitoring.dashboard())
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"].replace("$instance", ".*")
            api(prometheus_port, "/api/v1/query", query=expr)
    failures = api(
        prometheus_port,
        "/api/v1/query",
        query='label_replace(civicquant_job_consecutive_failures, "job", "$1", "exported_job", "(.+)")',
    )["result"]
    assert {r["metric"]["job"]: r["value"][1] for r in failures}["extract"] == "3"
