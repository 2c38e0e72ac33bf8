"""The reliability suite: every test here carries the `reliability` marker.

Fixtures shared by its files: `procs`, which starts processes and kills and reaps every
one of them when the test ends, however it ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.support import Processes

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.reliability)


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Processes]:
    """Start processes; every one still alive at the end of the test is killed and reaped."""
    processes = Processes(tmp_path / "proc-output")
    try:
        yield processes
    finally:
        processes.cleanup()
