"""Benchmarks whose feature is still being built: rows that say so, and what they will measure."""

from __future__ import annotations

from bench.context import Context
from bench.results import Row


def digest(ctx: Context) -> list[Row]:
    """Will time a 4 h window's query + render with 1,000,000 events vs 100,000."""
    return [
        Row(
            name="digest 4 h window, 1,000,000 vs 100,000 events",
            measured=None,
            unit="ms",
            reference="the same window over 100,000 events",
            ratio=None,
            target="",
            verdict="not yet measured: needs the digest command",
        )
    ]


def breaking_latency(ctx: Context) -> list[Row]:
    """Will time a committed post to its breaking alert at a fake Bot API."""
    return [
        Row(
            name="breaking latency (post committed -> alert at fake Bot API)",
            measured=None,
            unit="s",
            reference="",
            ratio=None,
            target="",
            verdict="not yet measured: needs breaking alerts (digest publishing)",
        )
    ]
