from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CIVICQUANT = Path(sys.executable).parent / "civicquant"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/acceptance/" in str(item.fspath):
            item.add_marker(pytest.mark.acceptance)


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed executable the way cron does: a fresh process, a minimal environment."""
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
    }
    return subprocess.run(
        [str(CIVICQUANT), *args],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )
