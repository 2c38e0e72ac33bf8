"""tests/monitoring: the shipped rules in a real Prometheus, over node_exporter's textfile."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/monitoring/" in str(item.fspath):
            item.add_marker(pytest.mark.monitoring)
