"""Child processes the way cron starts them: the installed `civicquant`, timed, with peak RSS.

Each child runs in an empty working directory with none of the developer's civicquant
settings in its environment, so no `.env` or DATABASE_URL leaks into a measurement.

Peak RSS comes from GNU time (`/usr/bin/time -f %M`), which forks the command from its own
small process. wait4(2)'s ru_maxrss on a child of ours is only an upper bound: Linux carries
the parent's high-water mark across fork/vfork + exec, so a child spawned while this harness
holds 150 MB reports at least 150 MB. It is the fallback when GNU time is missing.
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
GNU_TIME = Path("/usr/bin/time")
_SETTING_PREFIXES = ("TG_", "LLM_", "DATABASE_URL", "CIVICQUANT_", "LOG_", "DIGEST_", "EXTRACT")


def compile_package() -> None:
    """Write civicquant's bytecode, as installing a wheel does, before any child is timed.

    The package is installed editable, and with PYTHONDONTWRITEBYTECODE set (as it is on the
    CI machines) nothing writes the bytecode at import: every child would compile all the
    modules it imports from source (here 50 ms of `civicquant health`'s start, 130 ms of
    `extract`'s), which no packaged install pays.
    """
    import compileall

    compileall.compile_dir(REPO_ROOT / "civicquant", quiet=1)


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
    rss_exact: bool  # False: wait4's upper bound (no GNU time)
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

    def __init__(
        self, args: Sequence[str], env: Mapping[str, str], cwd: Path, *, rss: bool = True
    ) -> None:
        # The child writes to these for its whole life; finish() reads and closes them.
        self._out: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - outlives __init__
        self._err: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - outlives __init__
        self._rss_path: Path | None = None
        command = list(args)
        if rss and GNU_TIME.exists():
            handle, name = tempfile.mkstemp(prefix="cq-bench-rss-")
            os.close(handle)
            self._rss_path = Path(name)
            command = [str(GNU_TIME), "-f", "%M", "-o", name, *command]
        self.started = time.perf_counter()
        self._proc = subprocess.Popen(
            command, env=dict(env), cwd=cwd, stdout=self._out, stderr=self._err
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
        peak_kib, exact = usage.ru_maxrss, False  # KiB on Linux
        if self._rss_path is not None:
            peak_kib, exact = int(self._rss_path.read_text().split()[-1]), True
            self._rss_path.unlink()
        return Finished(seconds, peak_kib * 1024, exact, self._proc.returncode, *outputs)


def run(args: Sequence[str], env: Mapping[str, str], cwd: Path, *, rss: bool = True) -> Finished:
    """Run one child to the end."""
    return Child(args, env, cwd, rss=rss).finish()
