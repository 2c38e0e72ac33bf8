"""A PgBouncer in transaction pooling mode in front of the test server, for one module.

Debian's `pgbouncer` is used when installed (and installed with apt-get when the tests run
as root and it is missing). It listens on a free loopback port with a generated ini: a
wildcard `[databases]` entry pointing at the test server (a unix-socket directory for the
embedded server), `auth_type = any` (PgBouncer logs in as the server's user whatever the
client says), `pool_mode = transaction`. PgBouncer refuses to run as root, so as root it is
started with `-u` as the owner of the server's socket directory (the only user besides the
server that may enter it), or `nobody` for a TCP server.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

APT_TIMEOUT = 600


class Unavailable(Exception):
    """PgBouncer cannot be had on this machine; the message says why."""


def find_or_install() -> str:
    """The pgbouncer executable, installing Debian's package as root if it is missing."""
    found = shutil.which("pgbouncer") or _sbin("pgbouncer")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Unavailable("pgbouncer is not installed, and this is not a root Debian host")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "pgbouncer"]
    failure = ""
    # The package lists may be missing or stale: update once, only when a plain install fails.
    for command in (install, ["apt-get", "update", "-qq"], install):
        try:
            done = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=APT_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired:
            raise Unavailable(f"{' '.join(command)} took more than {APT_TIMEOUT}s") from None
        failure = done.stderr.strip()[-300:]
        found = shutil.which("pgbouncer") or _sbin("pgbouncer")
        if found:
            return found
    raise Unavailable(f"apt-get install pgbouncer failed: {failure}")


def _sbin(name: str) -> str | None:
    path = Path("/usr/sbin") / name
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Bouncer:
    """A running PgBouncer: where it listens, and its log."""

    port: int
    log: Path
    version: str
    host: str = "127.0.0.1"

    def url(self, server_url: str) -> str:
        """`server_url` (any database on the test server) rewritten to go through PgBouncer."""
        parts = conninfo_to_dict(server_url)
        return make_conninfo(
            "",
            host=self.host,
            port=str(self.port),
            dbname=str(parts.get("dbname") or "postgres"),
            user=str(parts.get("user") or "postgres"),
        )

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextmanager
def running(server_url: str, listen_addr: str = "127.0.0.1") -> Iterator[Bouncer]:
    """Start PgBouncer in front of the server of `server_url`; stop it on exit.

    It listens on `listen_addr` (loopback unless told, e.g. a bridge's address that other
    network namespaces reach)."""
    executable = find_or_install()
    version = subprocess.run(
        [executable, "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.splitlines()[0:1]
    server = conninfo_to_dict(server_url)
    host = str(server.get("host") or "/var/run/postgresql")
    user = str(server.get("user") or "postgres")
    target = [f"host={host}", f"port={server.get('port') or 5432}", f"user={user}"]
    if server.get("password"):
        target.append(f"password={server['password']}")
    port = free_port(listen_addr)
    workdir = Path(tempfile.mkdtemp(prefix="cq-pgbouncer-"))
    run_as = _run_as(host)
    ini = workdir / "pgbouncer.ini"
    ini.write_text(
        "\n".join(
            [
                "[databases]",
                f"* = {' '.join(target)}",
                "",
                "[pgbouncer]",
                f"listen_addr = {listen_addr}",
                f"listen_port = {port}",
                "unix_socket_dir =",
                "auth_type = any",
                "pool_mode = transaction",
                "max_client_conn = 500",
                "default_pool_size = 40",
                "ignore_startup_parameters = extra_float_digits",
                "log_connections = 0",
                "log_disconnections = 0",
                "",
            ]
        ),
        encoding="utf-8",
    )
    workdir.chmod(0o755)
    ini.chmod(0o644)
    log = workdir / "pgbouncer.log"
    command = [executable, *(["-u", run_as] if run_as else []), str(ini)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    bouncer = Bouncer(port, log, version[0] if version else "pgbouncer", listen_addr)
    try:
        _wait_ready(proc, bouncer, server_url)
        yield bouncer
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def _run_as(host: str) -> str | None:
    """Who PgBouncer runs as: None (ourselves) unless we are root, which it refuses."""
    if os.geteuid() != 0:
        return None
    if host.startswith("/"):
        owner = pwd.getpwuid(Path(host).stat().st_uid).pw_name
        if owner != "root":
            return owner
    return "nobody"


def _wait_ready(proc: subprocess.Popen[bytes], bouncer: Bouncer, server_url: str) -> None:
    deadline = time.monotonic() + 20
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Unavailable(
                f"pgbouncer exited with {proc.returncode}: {bouncer.log_text()[-800:]}"
            )
        try:
            with psycopg.connect(bouncer.url(server_url), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.Error as exc:
            last = exc
            time.sleep(0.1)
    raise Unavailable(f"pgbouncer did not answer within 20s ({last}): {bouncer.log_text()[-800:]}")
