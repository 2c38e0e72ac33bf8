"""A progress bar while a terminal watches an import, a backfill or `extract --oneshot`; none under cron."""

from __future__ import annotations

import os
import pty
import subprocess
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from civicquant.db import Database
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog
from tests.acceptance.conftest import CIVICQUANT, run_cli

SAMPLE = Path(__file__).resolve().parents[2] / "civicquant" / "samples" / "demo_wirewatch.json"
BAR = "━"  # rich's bar segment


def run_on_terminal(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal (as in a shell); (status, stdout, terminal)."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [str(CIVICQUANT), *args],
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "TERM": "xterm-256color",
            **env,
        },
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=terminal,
        text=True,
    )
    os.close(terminal)
    drawn: list[bytes] = []

    def read() -> None:
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the process closed the terminal
                return
            if not chunk:
                return
            drawn.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        out, _ = process.communicate(timeout=120)
    finally:
        reader.join(timeout=10)
        os.close(controller)
    return process.returncode, out, b"".join(drawn).decode("utf-8", "replace")


def test_an_import_on_a_terminal_draws_a_progress_bar(database_url: str) -> None:
    status, out, terminal = run_on_terminal(
        "backfill", "--from-export", str(SAMPLE), env={"DATABASE_URL": database_url}
    )
    assert status == 0, terminal
    assert "backfill: inserted=" in out
    assert "import demo_wirewatch.json" in terminal
    assert BAR in terminal
    assert "posts" in terminal


def test_an_import_under_cron_draws_no_bar(database_url: str) -> None:
    result = run_cli("backfill", "--from-export", str(SAMPLE), env={"DATABASE_URL": database_url})
    assert result.returncode == 0, result.stderr
    assert BAR not in result.stderr
    assert "\x1b[" not in result.stderr  # no terminal control at all in a cron log


def test_json_logs_on_a_terminal_draw_no_bar(database_url: str) -> None:
    status, _, terminal = run_on_terminal(
        "backfill",
        "--from-export",
        str(SAMPLE),
        env={"DATABASE_URL": database_url, "LOG_FORMAT": "json"},
    )
    assert status == 0, terminal
    assert BAR not in terminal


def seed(database_url: str, posts: int) -> None:
    with Database.connect(database_url) as db:
        rawlog = RawLog(db, pipeline_version="v1")
        rawlog.save_channel(Channel(1001, "wirewatch"))
        now = datetime.now(UTC)
        rawlog.store(
            1001,
            [
                RawPost(1001, i, now, text=f"Fed update {i}: rates on hold")
                for i in range(1, posts + 1)
            ],
            "live",
        )


def test_extract_oneshot_on_a_terminal_draws_jobs_done_of_the_backlog(database_url: str) -> None:
    seed(database_url, 40)
    status, out, terminal = run_on_terminal(
        "extract", "--oneshot", env={"DATABASE_URL": database_url}
    )
    assert status == 0, terminal
    assert "extract: ok=40" in out
    assert BAR in terminal
    assert "40/40 jobs" in terminal


@pytest.mark.parametrize("on_terminal", [True, False])
def test_extract_as_cron_runs_it_draws_no_bar(database_url: str, on_terminal: bool) -> None:
    seed(database_url, 5)
    args = ("extract", "--max-runtime", "1s")
    env = {"DATABASE_URL": database_url}
    if on_terminal:
        status, _, drawn = run_on_terminal(*args, env=env)
    else:
        result = run_cli(*args, env=env)
        status, drawn = result.returncode, result.stderr
    assert status == 0, drawn
    assert BAR not in drawn


def test_health_and_help_never_import_rich() -> None:
    import json
    import sys

    code = (
        "import json, sys\n"
        "from civicquant.cli import main\n"
        "for argv in (['--help'], ['health'], ['backfill', '--help']):\n"
        "    sys.argv = ['civicquant', *argv]\n"
        "    try:\n        main()\n    except SystemExit:\n        pass\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'rich')),"
        " file=sys.stderr)\n"
    )
    env = {**os.environ, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert json.loads(result.stderr.strip().splitlines()[-1]) == []
