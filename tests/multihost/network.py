"""Hosts made of network namespaces on this machine, for the multi-host suite.

Two bridges in the root namespace stand for two networks: `cqbr0` (10.77.0.1/24), the
database network, where PgBouncer listens, and `cqbr1` (10.78.0.1/24), the way out to
Telegram, where the fake Bot API listens. Each host `cq-hN` is a namespace with one veth
into each bridge (`cqhNdb` at 10.77.0.1N, `cqhNtg` at 10.78.0.1N), so a host can be cut off
from the database alone while it still reaches Telegram, which is what a network partition
between an application host and its database looks like.

A command runs on a host through `ip netns exec`, in a UTS namespace of its own whose
hostname is the host's name, so the lease holder (`hostname:pid:run`) names the host.
Everything is made by `Network.create` and removed by `Network.destroy`, which also
clears what a killed earlier run left behind. Needs root (CAP_NET_ADMIN).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

DB_BRIDGE = "cqbr0"
TG_BRIDGE = "cqbr1"
DB_GATEWAY = "10.77.0.1"  # PgBouncer listens here
TG_GATEWAY = "10.78.0.1"  # the fake Bot API listens here
HOSTS = 3


class Unavailable(Exception):
    """Namespaces cannot be made here; the message says why."""


@dataclass(frozen=True)
class Host:
    """One namespace host: its name, and its interfaces and addresses on both networks."""

    index: int

    @property
    def name(self) -> str:
        return f"cq-h{self.index}"

    @property
    def db_link(self) -> str:
        return f"cqh{self.index}db"

    @property
    def tg_link(self) -> str:
        return f"cqh{self.index}tg"

    @property
    def db_address(self) -> str:
        return f"10.77.0.{10 + self.index}"

    @property
    def tg_address(self) -> str:
        return f"10.78.0.{10 + self.index}"

    def command(self, args: Sequence[str]) -> list[str]:
        """`args` run on this host: its network namespace, its own hostname."""
        return [
            "ip",
            "netns",
            "exec",
            self.name,
            "unshare",
            "--uts",
            "sh",
            "-c",
            f'hostname {self.name} && exec "$@"',
            "sh",
            *args,
        ]


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if check and done.returncode != 0:
        raise Unavailable(f"ip {' '.join(args)} failed: {done.stderr.strip()[-300:]}")
    return done


class Network:
    """The bridges and the namespace hosts; see the module docstring."""

    def __init__(self, count: int = HOSTS) -> None:
        self.hosts = [Host(index) for index in range(1, count + 1)]

    def create(self) -> None:
        """Make the bridges and hosts, or raise Unavailable saying why they cannot be made."""
        if os.geteuid() != 0:
            raise Unavailable("network namespaces need root (CAP_NET_ADMIN); this is not root")
        for tool in ("ip", "unshare", "hostname"):
            if not shutil.which(tool):
                raise Unavailable(f"{tool} is not installed (Debian: iproute2, util-linux)")
        self.destroy()
        for bridge, gateway in ((DB_BRIDGE, DB_GATEWAY), (TG_BRIDGE, TG_GATEWAY)):
            _ip("link", "add", bridge, "type", "bridge")
            _ip("addr", "add", f"{gateway}/24", "dev", bridge)
            _ip("link", "set", bridge, "up")
        for host in self.hosts:
            _ip("netns", "add", host.name)
            _ip("-n", host.name, "link", "set", "lo", "up")
            for link, address, bridge in (
                (host.db_link, host.db_address, DB_BRIDGE),
                (host.tg_link, host.tg_address, TG_BRIDGE),
            ):
                peer = f"{link}p"
                _ip("link", "add", link, "type", "veth", "peer", "name", peer)
                _ip("link", "set", peer, "master", bridge, "up")
                _ip("link", "set", link, "netns", host.name)
                _ip("-n", host.name, "addr", "add", f"{address}/24", "dev", link)
                _ip("-n", host.name, "link", "set", link, "up")

    def destroy(self) -> None:
        """Remove every host and bridge (deleting a namespace deletes its veths too)."""
        for host in self.hosts:
            _ip("netns", "delete", host.name, check=False)
            for link in (host.db_link, host.tg_link):
                _ip("link", "delete", f"{link}p", check=False)
        for bridge in (DB_BRIDGE, TG_BRIDGE):
            _ip("link", "delete", bridge, check=False)

    def cut_from_database(self, host: Host) -> None:
        """Take the host's database link down: nothing it sends reaches PgBouncer."""
        _ip("-n", host.name, "link", "set", host.db_link, "down")

    def reconnect_database(self, host: Host) -> None:
        _ip("-n", host.name, "link", "set", host.db_link, "up")

    def host_named(self, name: str) -> Host:
        return next(host for host in self.hosts if host.name == name)
