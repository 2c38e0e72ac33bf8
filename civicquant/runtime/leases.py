"""Leases: rows in `leases` that let one cron-started process at a time do a job.

A lease is taken in one statement when free or expired, renewed by its holder while it
works, and released on exit. A holder that dies simply stops renewing; once the lease
expires the next process takes it over. Nothing here holds a session-level lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from civicquant.db import Database
from civicquant.errors import CivicquantError

log = structlog.get_logger("civicquant.runtime.leases")


@dataclass(frozen=True, slots=True)
class Lease:
    """A lease row as read from the database."""

    name: str
    holder: str
    acquired_at: datetime
    heartbeat_at: datetime
    expires_at: datetime


def acquire(db: Database, name: str, holder: str, ttl_seconds: float) -> Lease | None:
    """Take `name` for `holder`; None when someone else holds it and it has not expired."""
    row = db.fetch_one(
        "acquire_lease", {"name": name, "holder": holder, "ttl_seconds": ttl_seconds}
    )
    return Lease(**row) if row else None


def renew(db: Database, name: str, holder: str, ttl_seconds: float) -> bool:
    """Extend our lease; False when it was lost (expired and taken by another process)."""
    row = db.fetch_one("renew_lease", {"name": name, "holder": holder, "ttl_seconds": ttl_seconds})
    return row is not None


def release(db: Database, name: str, holder: str) -> None:
    """Give the lease up, if we still hold it."""
    db.execute("release_lease", {"name": name, "holder": holder})


def current(db: Database, name: str) -> dict[str, Any] | None:
    """The lease row for `name` (with an `expired` flag), or None."""
    return db.fetch_one("get_lease", {"name": name})


class Heartbeat:
    """Renews a lease from a background thread on its own connection, which it owns.

    The worker's connection may be busy in a long statement; a separate connection keeps
    the lease alive meanwhile. When a renewal finds the lease gone, `lost` is set and the
    `on_lost` event (the job's stop flag) is set so the job winds down.
    """

    def __init__(
        self,
        db: Database,
        name: str,
        holder: str,
        ttl_seconds: float,
        on_lost: threading.Event,
    ) -> None:
        self._db = db
        self._name = name
        self._holder = holder
        self._ttl = ttl_seconds
        self._on_lost = on_lost
        self._stopped = threading.Event()
        self.lost = False
        self._thread = threading.Thread(target=self._run, name=f"lease-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop renewing and close the heartbeat's connection."""
        self._stopped.set()
        self._thread.join(timeout=self._ttl)
        self._db.close()

    def _run(self) -> None:
        interval = max(self._ttl / 3, 0.5)
        while not self._stopped.wait(interval):
            try:
                still_ours = renew(self._db, self._name, self._holder, self._ttl)
            except CivicquantError as exc:
                # A database hiccup: keep trying until the lease would have expired anyway.
                log.warning("lease_renew_failed", lease=self._name, error=str(exc))
                continue
            if not still_ours:
                self.lost = True
                log.error("lease_lost", lease=self._name, holder=self._holder)
                self._on_lost.set()
                return
