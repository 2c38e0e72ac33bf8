"""The monitoring that ships with civicquant: a Grafana dashboard and Prometheus alert rules.

Both read only the metrics `health --format prometheus` writes (`health_render`). They are
package data under `civicquant/monitoring/` (with promtool's unit tests of the rules in
`tests/`), printed by `civicquant monitoring dashboard` and `civicquant monitoring rules`.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

DASHBOARD = "dashboard.json"
ALERT_RULES = "alerts.yml"


def folder() -> Traversable:
    """The package-data folder holding the dashboard, the rules and the rules' tests."""
    return resources.files("civicquant") / "monitoring"


def dashboard() -> str:
    """The Grafana dashboard, as JSON text ready for Grafana's import or provisioning."""
    return (folder() / DASHBOARD).read_text(encoding="utf-8")


def alert_rules() -> str:
    """The Prometheus alerting rules file, as YAML text for `rule_files`."""
    return (folder() / ALERT_RULES).read_text(encoding="utf-8")
