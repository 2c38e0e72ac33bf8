"""Helpers for the reliability suite: real processes with bounded lives, and raw SQL looks.

Every process is started through `Processes`, which sends its output to files (a chatty
process never blocks on a full pipe) and kills and reaps whatever is still running when
the test ends. `civicquant` is the installed executable, run the way cron runs it: a
fresh process with a minimal environment and a working directory without a `.env`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

ROOT = Path(__file__).resolve().parents[2]
CIVICQUANT = Path(sys.executable).parent / "civicquant"
SAMPLE_EXPORT = ROOT / "civicquant" / "samples" / "demo_wirewatch.json"
ERROR_PREFIX = "civicquant: error: "


def cli_env(database_url: str | None, home: Path, **extra: str) -> dict[str, str]:
    """A cron-like environment: PATH, HOME, a UTF-8 locale, JSON logs, and `extra`."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "CIVICQUANT_HOME": str(home),
        "LOG_FORMAT": "json",
    }
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    env.update(extra)
    return env


@dataclass(frozen=True)
class Finished:
    """A process that has ended: how, and everything it printed."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def error_lines(self) -> list[str]:
        """The `civicquant: ...` lines the CLI prints for an operator on stderr."""
        return [line for line in self.stderr.splitlines() if line.startswith("civicquant:")]

    def describe(self) -> str:
        return (
            f"$ {' '.join(self.args)}\nexit {self.returncode}\n"
            f"--- stdout ---\n{self.stdout[-3000:]}\n--- stderr ---\n{self.stderr[-3000:]}"
        )


class Running:
    """A started process whose stdout and stderr go to files."""

    def __init__(
        self, args: Sequence[str], proc: subprocess.Popen[bytes], stdout: Path, stderr: Path
    ) -> None:
        self.args = tuple(args)
        self.proc = proc
        self.stdout_path = stdout
        self.stderr_path = stderr

    @property
    def pid(self) -> int:
        return self.proc.pid

    def poll(self) -> int | None:
        return self.proc.poll()

    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def kill(self, signum: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)

    def wait(self, timeout: float) -> Finished:
        """Wait for the process; past `timeout` kill it and fail the test with its output."""
        try:
            returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
            raise AssertionError(
                f"still running after {timeout}s, killed:\n{self.finished().describe()}"
            ) from None
        return self.finished(returncode)

    def finished(self, returncode: int | None = None) -> Finished:
        code = self.proc.returncode if returncode is None else returncode
        return Finished(self.args, -999 if code is None else code, self.stdout(), self.stderr())


class Processes:
    """Starts processes and, in `cleanup`, kills and reaps every one still running."""

    def __init__(self, output_dir: Path) -> None:
        self._dir = output_dir
        self._dir.mkdir(parents=True, exist_ok=True)
        self._started: list[Running] = []

    def start(
        self, args: Sequence[str], env: Mapping[str, str], *, cwd: Path | None = None
    ) -> Running:
        index = len(self._started)
        stdout = self._dir / f"{index:03d}.out"
        stderr = self._dir / f"{index:03d}.err"
        with stdout.open("wb") as out, stderr.open("wb") as err:
            proc = subprocess.Popen(
                list(args),
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=cwd or self._dir,
            )
        running = Running(args, proc, stdout, stderr)
        self._started.append(running)
        return running

    def run(
        self,
        args: Sequence[str],
        env: Mapping[str, str],
        *,
        timeout: float = 120,
        cwd: Path | None = None,
    ) -> Finished:
        return self.start(args, env, cwd=cwd).wait(timeout)

    def cli(self, *args: str, env: Mapping[str, str], timeout: float = 120) -> Finished:
        """Run the installed `civicquant` with `args` to the end."""
        return self.run([str(CIVICQUANT), *args], env, timeout=timeout)

    def spawn_cli(self, *args: str, env: Mapping[str, str]) -> Running:
        return self.start([str(CIVICQUANT), *args], env)

    def cleanup(self) -> None:
        for running in reversed(self._started):
            if running.proc.poll() is None:
                running.proc.kill()
            # A TimeoutExpired here is a zombie we cannot reap.
            with contextlib.suppress(subprocess.TimeoutExpired):
                running.proc.wait(timeout=30)
        self._started.clear()


def wait_until(
    predicate: Callable[[], Any], *, timeout: float, interval: float = 0.05, what: str
) -> Any:
    """Poll `predicate` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# -- looking at the database directly -----------------------------------------------------


def query(url: str, statement: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[Any]:
    """Rows of a statement, as dicts, on a connection of its own."""
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def public_tables(url: str) -> list[str]:
    rows = query(
        url,
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name",
    )
    return [row["table_name"] for row in rows]


def row_counts(url: str) -> dict[str, int]:
    counts = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for table in public_tables(url):
            row = conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            ).fetchone()
            counts[table] = int(row[0]) if row else 0
    return counts


def dump_rows(url: str) -> dict[str, list[str]]:
    """Every row of every table in schema public, as `to_jsonb(row)::text`."""
    dump = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for table in public_tables(url):
            rows = conn.execute(
                sql.SQL("SELECT to_jsonb(t)::text FROM {} t").format(sql.Identifier(table))
            ).fetchall()
            dump[table] = [row[0] for row in rows]
    return dump
