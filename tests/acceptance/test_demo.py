"""`make demo`'s exact commands, as a new user runs them: embedded database, no network."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.acceptance.test_cli import _stop_embedded

ROOT = Path(__file__).resolve().parents[2]


def test_demo_imports_extracts_and_prints_a_digest(stable_tmp: Path) -> None:
    home = stable_tmp / "demo"
    users_home = stable_tmp / "users-home"  # a user's installation: never touched
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "DEMO_HOME": str(home),
        "CIVICQUANT_HOME": str(users_home),
        "CIVICQUANT_ROUTES": "/nonexistent/routes.toml",
        "DEMO_PYTHON": sys.executable,
        # A developer's settings must not leak into the demo.
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nothing",
        "TG_BOT_TOKEN": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
    }
    try:
        result = subprocess.run(
            ["sh", "scripts/demo.sh"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        out = result.stdout
        assert "backfill: inserted=25" in out
        assert "extract: ok=" in out
        assert "----- part 1/1 " in out  # the 08:00-12:00 digest is one message
        assert "<b>Digest</b> 08:00–12:00 UTC, 20 Nov 2026" in out
        assert 'href="https://t.me/wirewatch_demo/' in out
        assert "(2 sources)" in out
        # headlines: no sign-off bullet ("That's the morning desk signing off."), none cut
        # inside a parenthesis ("Japan core CPI +2.9% y/y (exp.")
        bullets = [line.split(" — <a ", 1)[0] for line in out.splitlines() if line[:2] == "• "]
        assert bullets
        assert not [bullet for bullet in bullets if "signing off" in bullet]
        assert not [bullet for bullet in bullets if bullet.count("(") != bullet.count(")")]
        assert "Traceback" not in result.stderr

        again = subprocess.run(
            ["sh", "scripts/demo.sh"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert again.returncode == 0, again.stderr[-3000:]
        assert "backfill: unchanged=25" in again.stdout  # a second run duplicates nothing
        assert not users_home.exists()
        assert (home / "embedded.json").is_file()  # the demo's own embedded server
    finally:
        _stop_embedded(home)
