"""Leases: rows in `leases` that let one cron-started process at a time do a job.

A lease is taken in one statement when free or expired, renewed by its holder while it
works, and released on exit. A holder that dies simply stops renewing; once the lease
expires the next process takes it over. Nothing here holds a session-level lock.

Leases fence (sql/0011_lease_fencing.sql). Each taking gets a new `generation`. A holder
that cannot renew within the TTL (its heartbeat connection died, the database is out of
reach) stops: the heartbeat sets the job's stop flag once the lease would have expired.
And each side effect (a digest part reserved or recorded, a listen batch stored) first
calls `Fence.check` in its own transaction: the lease must still be ours, at our
generation, unexpired, and the row stays share-locked until that transaction commits. A
holder that lost its lease stops before its next side effect, whatever its heartbeat says.
That transaction may sit idle for at most a TTL (the server ends the session after that):
a holder cut off from the database between the check and its commit would otherwise keep
the row locked, and every standby's take-over waiting, for as long as the cut lasts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
    generation: int


class LeaseLost(CivicquantError):
    """The lease is no longer ours (expired, or taken over): the side effect was not made."""


@dataclass(frozen=True, slots=True)
class Fence:
    """A held lease's fencing token: checked inside each side effect's transaction."""

    name: str
    holder: str
    generation: int
    ttl_seconds: float

    def check(self, db: Database) -> None:
        """Raise LeaseLost unless the lease is still ours; call it inside a transaction."""
        row = db.fetch_one(
            "check_lease_fence",
            {
                "name": self.name,
                "holder": self.holder,
                "generation": self.generation,
                "idle_timeout": f"{max(1, round(self.ttl_seconds * 1000))}ms",
            },
        )
        if row is None:
            raise LeaseLost(
                f"lease {self.name} is no longer held by this run (expired or taken over): "
                "stopped before its next side effect"
            )


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
    the lease alive meanwhile. When a renewal finds the lease gone, or no renewal has
    succeeded for a whole TTL (the lease has expired as the database sees it), `lost` is
    set and the `on_lost` event (the job's stop flag) is set so the job winds down.
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
        renewed = time.monotonic()
        while not self._stopped.wait(interval):
            try:
                still_ours = renew(self._db, self._name, self._holder, self._ttl)
            except CivicquantError as exc:
                # A database hiccup: keep trying until the lease would have expired anyway.
                log.warning("lease_renew_failed", lease=self._name, error=str(exc))
                if time.monotonic() - renewed < self._ttl:
                    continue
                still_ours = False
            if not still_ours:
                self.lost = True
                log.error("lease_lost", lease=self._name, holder=self._holder)
                self._on_lost.set()
                return
            renewed = time.monotonic()


@contextmanager
def held(
    db: Database, name: str, holder: str, ttl_seconds: float, on_lost: threading.Event
) -> Iterator[Lease | None]:
    """Hold a second lease for a block: taken, renewed by a heartbeat, released after.

    Yields None (and holds nothing) when another holder has it. Losing it sets `on_lost`
    (the job's stop flag), like the job's own lease.
    """
    taken = acquire(db, name, holder, ttl_seconds)
    if taken is None:
        yield None
        return
    heartbeat = Heartbeat(
        db.open_sibling(f"civicquant lease {name}"), name, holder, ttl_seconds, on_lost
    )
    heartbeat.start()
    try:
        yield taken
    finally:
        heartbeat.stop()
        try:
            release(db, name, holder)
        except CivicquantError as exc:  # it expires by itself
            log.warning("lease_release_failed", lease=name, error=str(exc))
