"""The multi-host suite: every test here carries the `multihost` marker.

Its hosts are network namespaces (tests/multihost/network.py), so it needs root; where
they cannot be made, each test is skipped saying why. Fixtures: `network` (three hosts and
two bridges, removed however the test ends), `bouncer` (PgBouncer in transaction pooling
mode on the database bridge) and `procs` (every process killed and reaped at the end).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.multihost.network import DB_GATEWAY, Network, Unavailable
from tests.reliability import bouncer as pgbouncer
from tests.reliability.support import Processes

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.multihost)


@pytest.fixture
def network() -> Iterator[Network]:
    """Three namespace hosts on two bridges; removed at the end, however the test ends."""
    made = Network()
    try:
        try:
            made.create()
        except Unavailable as exc:
            pytest.skip(f"network namespaces cannot be made here: {exc}")
        yield made
    finally:
        made.destroy()


@pytest.fixture
def bouncer(pg_server: str, network: Network) -> Iterator[pgbouncer.Bouncer]:
    """PgBouncer (transaction pooling) on the database bridge, in front of the test server."""
    try:
        with pgbouncer.running(pg_server, listen_addr=DB_GATEWAY) as started:
            yield started
    except pgbouncer.Unavailable as exc:
        pytest.skip(f"no PgBouncer to put between the hosts and the database: {exc}")


@pytest.fixture
def procs(tmp_path: Path, network: Network) -> Iterator[Processes]:
    """Start processes; every one still alive at the end of the test is killed and reaped
    (before the hosts they run on are removed)."""
    processes = Processes(tmp_path / "proc-output")
    try:
        yield processes
    finally:
        processes.cleanup()
