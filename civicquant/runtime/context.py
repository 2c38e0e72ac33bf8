"""What one job's body is given: settings, the database, its run id, a stop flag, counters.

The context knows nothing of how the job was started or of what runs after it: the runner
(`civicquant.runtime.runner`) builds it, and publishing never appears here.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from civicquant.config import Settings
from civicquant.db import Database

if TYPE_CHECKING:  # `health` builds no context: no structlog (leases) on its start-up path
    from civicquant.runtime.leases import Fence


@dataclass
class JobContext:
    """What a job body gets: settings, the database, its run id, a stop flag and counters."""

    settings: Settings
    db: Database
    job_name: str
    run_id: str
    stop: threading.Event
    counts: Counter[str] = field(default_factory=Counter)
    notes: dict[str, Any] = field(default_factory=dict)
    # The job's lease as a fencing token, for its side effects to check; None without one.
    fence: Fence | None = None

    def count(self, key: str, amount: int = 1) -> None:
        self.counts[key] += amount

    def summary(self) -> dict[str, Any]:
        """The counts and notes together: what job_runs records and the CLI prints."""
        return {**self.counts, **self.notes}
