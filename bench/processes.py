"""Child processes the way cron starts them: the installed `civicquant`, timed, with peak RSS.

Each child runs in an empty working directory with none of the developer's civicquant
settings in its environment, so no `.env` or DATABASE_URL leaks into a measurement.
Peak RSS comes from wait4(2) on that very child, so it is exact and per process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

REPO_ROOT = Path(__file__).resolve().parents[1]
_SETTING_PREFIXES = ("TG_", "LLM_", "DATABASE_URL", "CIVICQUANT_", "LOG_", "DIGEST_", "EXTRACT")


def civicquant() -> str:
    """The `civicquant` executable installed beside this interpreter."""
    return str(Path(sys.executable).with_name("civicquant"))


def child_env(database_url: str | None, home: Path, **settings: str) -> dict[str, str]:
    """os.environ without civicquant settings, plus the database, a home and `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SETTING_PREFIXES)}
    env["CIVICQUANT_HOME"] = str(home)
    env["LOG_FORMAT"] = "json"
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    env.update(settings)
    return env


@dataclass(frozen=True, slots=True)
class Finished:
    seconds: float
    peak_rss_bytes: int
    returncode: int
    stdout: str
    stderr: str

    def check(self, what: str) -> Finished:
        if self.returncode != 0:
            tail = (self.stderr or self.stdout).strip().splitlines()[-5:]
            raise RuntimeError(f"{what} exited {self.returncode}: " + " / ".join(tail))
        return self


class Child:
    """A started child; `finish()` waits for it and returns its time and peak RSS."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str], cwd: Path) -> None:
        self._out: IO[bytes] = tempfile.TemporaryFile()
        self._err: IO[bytes] = tempfile.TemporaryFile()
        self.started = time.perf_counter()
        self._proc = subprocess.Popen(
            list(args), env=dict(env), cwd=cwd, stdout=self._out, stderr=self._err
        )

    def finish(self) -> Finished:
        _, status, usage = os.wait4(self._proc.pid, 0)
        seconds = time.perf_counter() - self.started
        self._proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        outputs = []
        for stream in (self._out, self._err):
            stream.seek(0)
            outputs.append(stream.read().decode("utf-8", "replace"))
            stream.close()
        # ru_maxrss is in KiB on Linux.
        return Finished(seconds, usage.ru_maxrss * 1024, self._proc.returncode, *outputs)


def run(args: Sequence[str], env: Mapping[str, str], cwd: Path) -> Finished:
    """Run one child to the end."""
    return Child(args, env, cwd).finish()
