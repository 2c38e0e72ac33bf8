"""A real cron daemon for tests/cron: installed from Debian when missing, and root's crontab.

Both fixtures leave the machine as they found it: a daemon this session started is stopped
by its pid (one that was already running is never touched), and root's crontab is put back
as it was, or removed when there was none.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

DAEMON_NAMES = ("cron", "crond")
PID_FILES = (Path("/run/crond.pid"), Path("/var/run/crond.pid"), Path("/run/cron.pid"))
SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/cron/" in str(item.fspath):
            item.add_marker(pytest.mark.cron)


def process_name(pid: int) -> str | None:
    """The command name of a live process, None when it is gone or a zombie."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    if fields.get("State", "").startswith("Z"):
        return None
    return fields.get("Name", "").strip()


def parent_pid(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    return None


def ancestors(pid: int) -> list[int]:
    """pid's parent, grandparent, ... up to init (empty once pid has exited)."""
    chain = []
    current = parent_pid(pid)
    while current:
        chain.append(current)
        current = parent_pid(current)
    return chain


def process_environ(pid: int) -> dict[str, str]:
    """A live process's environment ({} when it is gone or unreadable)."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (entry.decode(errors="replace").split("=", 1) for entry in raw.split(b"\0") if entry)
    return {pair[0]: pair[1] for pair in pairs if len(pair) == 2}


def pids_with_env(key: str, value: str) -> list[int]:
    """Live processes whose environment has key=value: the jobs a crontab of ours started."""
    return [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit()
        and process_environ(int(entry.name)).get(key) == value
        and process_name(int(entry.name)) is not None
    ]


def wait_for_exit(pids: list[int], timeout: float) -> list[int]:
    """Wait until every pid has exited; return those still alive after timeout."""
    deadline = time.monotonic() + timeout
    alive = [pid for pid in pids if process_name(pid) is not None]
    while alive and time.monotonic() < deadline:
        time.sleep(0.5)
        alive = [pid for pid in alive if process_name(pid) is not None]
    return alive


def running_daemons() -> list[int]:
    return [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and process_name(int(entry.name)) in DAEMON_NAMES
    ]


def _daemon_executable() -> str | None:
    for name in DAEMON_NAMES:
        found = shutil.which(name, path=SBIN_PATH)
        if found:
            return found
    return None


def _install_cron_package() -> str:
    """Install Debian's cron package; return the daemon's path or skip naming what failed."""
    if os.geteuid() != 0:
        pytest.skip("no cron daemon, and installing Debian's cron package needs root")
    if shutil.which("apt-get", path=SBIN_PATH) is None:
        pytest.skip("no cron daemon, and no apt-get to install Debian's cron package")
    env = {"PATH": SBIN_PATH, "DEBIAN_FRONTEND": "noninteractive", "LANG": "C.UTF-8"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "cron"]):
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            pytest.skip(f"no cron daemon: `{' '.join(command)}` timed out after 300 s")
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            pytest.skip(f"no cron daemon: `{' '.join(command)}` failed: {last}")
    found = _daemon_executable()
    if found is None:
        pytest.skip("`apt-get install -y cron` succeeded but no cron or crond is on PATH")
    return found


def _pid_of_started_daemon(before: set[int]) -> int | None:
    for pid_file in PID_FILES:
        try:
            pid = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if process_name(pid) in DAEMON_NAMES:
            return pid
    new = [pid for pid in running_daemons() if pid not in before]
    return min(new) if new else None


@pytest.fixture(scope="session")
def cron_daemon() -> Iterator[int]:
    """The pid of a running cron daemon: the machine's own, else one started (and stopped) here."""
    already = running_daemons()
    if already:
        yield min(already)
        return
    executable = _daemon_executable() or _install_cron_package()
    if shutil.which("crontab", path=SBIN_PATH) is None:
        pytest.skip(f"{executable} is installed but the `crontab` command is missing")
    # A bare environment and a session of its own: nothing of pytest's leaks into the
    # daemon, and its jobs get only what cron and the crontab give them.
    started = subprocess.run(
        [executable],
        env={"PATH": SBIN_PATH, "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=30,
        start_new_session=True,
    )
    if started.returncode != 0:
        reason = started.stderr.strip() or f"exit status {started.returncode}"
        pytest.skip(f"`{executable}` would not start: {reason}")
    pid = None
    deadline = time.monotonic() + 10
    while pid is None and time.monotonic() < deadline:
        pid = _pid_of_started_daemon(set(already))
        if pid is None:
            time.sleep(0.2)
    if pid is None:
        pytest.skip(f"`{executable}` exited 0 but no cron daemon process is running")
    try:
        yield pid
    finally:
        if process_name(pid) in DAEMON_NAMES:
            os.kill(pid, signal.SIGTERM)
            if wait_for_exit([pid], timeout=10):
                os.kill(pid, signal.SIGKILL)


@dataclass
class RootCrontab:
    """root's crontab, through the `crontab` command as an administrator would use it."""

    saved: str | None

    def install_from_stdin(self, text: str) -> subprocess.CompletedProcess[str]:
        """`crontab -`: what `civicquant cron | crontab -` does."""
        return _crontab(["-"], stdin=text)

    def install_file(self, path: Path) -> None:
        done = _crontab([str(path)])
        assert done.returncode == 0, f"crontab {path} refused it: {done.stderr}"

    def listing(self) -> str | None:
        """`crontab -l`, None when root has no crontab."""
        return _listing()

    def restore(self) -> None:
        """Put back the crontab root had before the test (none: remove ours). Idempotent."""
        if self.saved is None:
            if _listing() is not None:
                removed = _crontab(["-r"])
                assert removed.returncode == 0, f"crontab -r failed: {removed.stderr}"
            return
        restored = _crontab(["-"], stdin=self.saved)
        assert restored.returncode == 0, f"could not restore root's crontab: {restored.stderr}"


def _crontab(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["crontab", *args],
        input=stdin,
        env={"PATH": SBIN_PATH, "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=30,
    )


def _listing() -> str | None:
    done = _crontab(["-l"])
    return done.stdout if done.returncode == 0 else None


@pytest.fixture
def root_crontab(cron_daemon: int) -> Iterator[RootCrontab]:
    """root's crontab, saved first and restored (or removed when there was none) at teardown."""
    if os.geteuid() != 0:
        pytest.skip("installing a crontab for root needs root")
    crontab = RootCrontab(saved=_listing())
    try:
        yield crontab
    finally:
        crontab.restore()
