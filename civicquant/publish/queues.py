"""The digest queues: the one table of what each queue publishes, and how often.

`vip` is the main digest: the events first seen in the window at or above
DIGEST_MIN_IMPORTANCE, its window VIP_DIGEST_HOURS long. Each `breaking_*` queue publishes
the events marked breaking within its own span, above its importance floor
(BREAKING_MIN_IMPORTANCE, or the queue's own BREAKING_MIN_IMPORTANCE_15M/_1H/_4H), each
once. The CLI's `--queue` choices, the window lengths and
the digest titles all come from here; cron/civicquant.crontab schedules one line for each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from civicquant.config import Settings
from civicquant.errors import UsageError

if TYPE_CHECKING:  # the CLI imports this table at start: no pydantic for `health`
    from civicquant.extraction import BreakingWindow


@dataclass(frozen=True, slots=True)
class DigestQueue:
    """One digest queue: its name, its title in the chat, and what it selects."""

    name: str
    title: str
    # How far back a breaking event may be to count, as extractions mark it; None for vip.
    breaking_window: BreakingWindow | None = None
    # The window's length; None: VIP_DIGEST_HOURS.
    span: timedelta | None = None

    def window_span(self, settings: Settings, hours: float | None = None) -> timedelta:
        """How long the queue's window is: --hours, else VIP_DIGEST_HOURS or its own span."""
        if hours is not None:
            return timedelta(hours=hours)
        return self.span or timedelta(hours=settings.vip_digest_hours)

    def min_importance(self, settings: Settings) -> float:
        """The importance an event needs to be published here (DIGEST_MIN_IMPORTANCE for the
        main digest)."""
        if self.breaking_window is None:
            return settings.digest_min_importance
        return settings.breaking_min_importance_for(self.name)


QUEUES: dict[str, DigestQueue] = {
    queue.name: queue
    for queue in (
        DigestQueue("vip", "Digest"),
        DigestQueue("breaking_15m", "Breaking, last 15 minutes", "15m", timedelta(minutes=15)),
        DigestQueue("breaking_1h", "Breaking, last hour", "1h", timedelta(hours=1)),
        DigestQueue("breaking_4h", "Breaking, last 4 hours", "4h", timedelta(hours=4)),
    )
}


def digest_queue(name: str) -> DigestQueue:
    """The queue called `name`; UsageError naming the known ones otherwise."""
    try:
        return QUEUES[name]
    except KeyError:
        known = ", ".join(QUEUES)
        raise UsageError(f"no digest queue named {name!r} (known: {known})") from None
