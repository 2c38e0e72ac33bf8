"""`compare`: two pipeline versions run on the same raw posts, on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from civicquant import queue
from civicquant.config import Settings
from civicquant.db import Database
from civicquant.errors import UsageError
from civicquant.extract import rules
from civicquant.extract.compare import compare, render_json, render_text
from civicquant.extract.providers import ProviderError, ProviderResult
from civicquant.extract.worker import Worker, WorkerOptions
from civicquant.extraction import Entity
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog
from civicquant.runtime.context import JobContext
from tests.fakes.providers import ScriptedProvider, failing_with

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
WIRE = Channel(1001, "wirewatch")
PULSE = Channel(1002, "marketpulse")

# What the rules extractor (v1) reads, noted where a test depends on it.
FED = "BREAKING: Federal Reserve holds interest rates at 5.25%-5.5%, signals two cuts next year"
# macro, breaking 1h, importance 0.75; Federal Reserve, 5.25%, 5.5%
OIL = "Brent crude jumps 4% after OPEC+ announces deeper output cuts of 1 million barrels a day"
# energy, not breaking, importance 0.25; 4%, OPEC+, 1 million barrels
BTC = "Bitcoin rises above $100,000 as ETF inflows hit a record"
# crypto: v2 reads it the same
APPLE = "Apple reports record quarterly revenue of $120bn, shares up 3%"
# companies, language en
POISON = "Parliament votes on the poison pill amendment to the budget"  # v1 fails on it
TOXIC = "Toxic spill closes the river port for a week, officials say"  # v2 dies on it

POSTS = [
    RawPost(1001, 1, T0, text=FED),
    RawPost(1001, 2, T0 + timedelta(minutes=10), text=OIL),
    RawPost(1002, 3, T0 + timedelta(minutes=20), text=BTC),
    RawPost(1002, 4, T0 + timedelta(minutes=30), text=APPLE),
    RawPost(1002, 5, T0 + timedelta(minutes=40), text=POISON),
    RawPost(1001, 6, T0 + timedelta(minutes=50), text=TOXIC),
]


class RevisedProvider:
    """Version 2: the rules extraction with some fields changed, per post."""

    name = "revised"
    model = "revised-2"
    prompt_fingerprint = "f" * 64

    async def extract(self, text: str) -> ProviderResult:
        extraction = rules.extract(text)
        if text == FED:
            # Another topic, not breaking, half the importance; same entities in upper case.
            extraction = extraction.model_copy(
                update={
                    "topic": "markets",
                    "is_breaking": False,
                    "breaking_window": None,
                    "importance": 0.25,
                    "headline": "Fed on hold",
                    "entities": [
                        Entity(kind=e.kind, text=e.text.upper()) for e in extraction.entities
                    ],
                }
            )
        elif text == OIL:
            # One entity of three dropped (Jaccard 2/3), importance 0.1 higher.
            extraction = extraction.model_copy(
                update={"importance": 0.35, "entities": extraction.entities[:2]}
            )
        elif text == APPLE:
            extraction = extraction.model_copy(update={"topic": "markets", "language": "und"})
        elif text == TOXIC:
            raise ProviderError("HTTP 500 from the provider")
        return ProviderResult(extraction, 250.0, 100, 20)

    async def aclose(self) -> None:
        return None


def work(settings: Settings, db: Database, provider: Any, version: str, **options: Any) -> None:
    ctx = JobContext(
        settings, db, "extract", "11111111-2222-3333-4444-555555555555", threading.Event()
    )
    opts = WorkerOptions(pipeline_version=version, oneshot=True, side_effects=False, **options)
    asyncio.run(Worker(ctx, provider, opts).run())


def run_both(settings: Settings, db: Database) -> None:
    """Store the posts, extract them as v1 (rules) and as v2 (RevisedProvider, one attempt)."""
    rawlog = RawLog(db, pipeline_version="v1")
    for channel in (WIRE, PULSE):
        rawlog.save_channel(channel)
        rawlog.store(
            channel.channel_id, [p for p in POSTS if p.channel_id == channel.channel_id], "live"
        )
    queue.enqueue_window(db, "v2")
    work(settings, db, ScriptedProvider(failing_with(ProviderError("HTTP 503"), "poison")), "v1")
    work(settings, db, RevisedProvider(), "v2", max_attempts=1)


@pytest.fixture
def both(settings: Settings, db: Database) -> Database:
    run_both(settings, db)
    return db


def test_coverage_counts_posts_in_both_and_in_only_one_version(both: Database) -> None:
    c = compare(both, "v1", "v2")
    assert (c.coverage.in_both, c.coverage.only_a, c.coverage.only_b) == (4, 1, 1)


def test_agreement_is_the_fraction_of_equal_fields_over_posts_in_both(both: Database) -> None:
    agreement = compare(both, "v1", "v2").agreement
    assert agreement.topic == pytest.approx(2 / 4)  # FED and APPLE changed topic
    assert agreement.is_breaking == pytest.approx(3 / 4)  # FED
    assert agreement.breaking_window == pytest.approx(3 / 4)  # FED: 1h against none
    assert agreement.language == pytest.approx(3 / 4)  # APPLE


def test_entity_overlap_is_mean_jaccard_ignoring_case(both: Database) -> None:
    # FED's upper-cased entities count as equal; OIL keeps 2 of 3.
    assert compare(both, "v1", "v2").agreement.entity_jaccard == pytest.approx(
        (1 + 2 / 3 + 1 + 1) / 4
    )


def test_importance_gap_is_the_mean_absolute_difference(both: Database) -> None:
    # FED 0.75 -> 0.25, OIL 0.25 -> 0.35, the others equal.
    assert compare(both, "v1", "v2").agreement.importance_mae == pytest.approx((0.5 + 0.1) / 4)


def test_confusion_table_counts_posts_by_topic_in_a_and_topic_in_b(both: Database) -> None:
    assert compare(both, "v1", "v2").confusion == {
        "macro": {"markets": 1},
        "energy": {"energy": 1},
        "crypto": {"crypto": 1},
        "companies": {"markets": 1},
    }


def test_most_different_posts_come_first_and_identical_ones_are_left_out(both: Database) -> None:
    worst = compare(both, "v1", "v2").most_different
    # FED: topic 1 + breaking 1 + window 0.5 + importance 0.5; APPLE: topic 1;
    # OIL: importance 0.1 + (1 - 2/3). BTC reads the same in both and is not listed.
    assert [(d.channel_id, d.message_id) for d in worst] == [(1001, 1), (1002, 4), (1001, 2)]
    assert [d.score for d in worst] == pytest.approx([3.0, 1.0, 0.1 + 1 / 3])


def test_side_by_side_shows_post_text_excerpt_and_both_headlines(both: Database) -> None:
    fed = compare(both, "v1", "v2").most_different[0]
    assert fed.channel_username == "wirewatch"
    assert fed.text == FED[:80]
    assert fed.a.headline == rules.extract(FED).headline
    assert fed.b.headline == "Fed on hold"
    assert (fed.a.breaking_window, fed.b.breaking_window) == ("1h", None)


def test_most_different_list_is_cut_at_top(both: Database) -> None:
    worst = compare(both, "v1", "v2", top=1).most_different
    assert [d.message_id for d in worst] == [1]


def test_version_summaries_name_provider_model_fingerprint_and_cost(both: Database) -> None:
    c = compare(both, "v1", "v2")
    assert (c.a.providers, c.a.models, c.a.prompt_fingerprints) == (
        ("scripted",),
        ("scripted-1",),
        ("0" * 64,),
    )
    assert (c.b.providers, c.b.models, c.b.prompt_fingerprints) == (
        ("revised",),
        ("revised-2",),
        ("f" * 64,),
    )
    # One by one: an approx inside a tuple is not a float to the type checker.
    assert c.a.extractions == 5
    assert c.a.mean_latency_ms == pytest.approx(0.1)
    assert c.a.prompt_tokens is None
    assert c.b.extractions == 5
    assert c.b.mean_latency_ms == pytest.approx(250.0)
    assert (c.b.prompt_tokens, c.b.completion_tokens) == (500, 100)


def test_failed_and_dead_jobs_are_counted_per_version(both: Database) -> None:
    c = compare(both, "v1", "v2")
    assert (c.a.failed_jobs, c.a.dead_jobs) == (1, 0)  # POISON waits for a retry
    assert (c.b.failed_jobs, c.b.dead_jobs) == (0, 1)  # TOXIC out of its one attempt


def test_window_keeps_only_posts_posted_from_since_until_before_until(both: Database) -> None:
    c = compare(
        both, "v1", "v2", since=T0 + timedelta(minutes=10), until=T0 + timedelta(minutes=30)
    )
    assert (c.coverage.in_both, c.coverage.only_a, c.coverage.only_b) == (2, 0, 0)  # OIL, BTC
    assert c.confusion == {"energy": {"energy": 1}, "crypto": {"crypto": 1}}
    assert [d.message_id for d in c.most_different] == [2]
    assert (c.a.extractions, c.b.extractions) == (2, 2)


def test_window_applies_to_failed_and_dead_jobs(both: Database) -> None:
    before_failures = compare(both, "v1", "v2", until=T0 + timedelta(minutes=40))
    assert (before_failures.a.failed_jobs, before_failures.b.dead_jobs) == (0, 0)
    with_failures = compare(both, "v1", "v2", since=T0 + timedelta(minutes=40))
    assert (with_failures.a.failed_jobs, with_failures.b.dead_jobs) == (1, 1)


def test_channel_filter_keeps_only_those_channels(both: Database) -> None:
    c = compare(both, "v1", "v2", channel_ids=[1002])
    # BTC and APPLE in both, POISON only in v2; TOXIC (1001) is outside.
    assert (c.coverage.in_both, c.coverage.only_a, c.coverage.only_b) == (2, 0, 1)
    assert c.agreement.topic == pytest.approx(0.5)
    assert (c.a.failed_jobs, c.b.dead_jobs) == (1, 0)


def test_window_with_no_posts_reports_no_agreement_rather_than_zero(both: Database) -> None:
    c = compare(both, "v1", "v2", since=T0 + timedelta(days=1))
    assert c.coverage.in_both == 0
    assert c.agreement.topic is None
    assert c.agreement.entity_jaccard is None
    assert c.confusion == {}
    assert c.most_different == ()
    assert re.search(r"^topic +-$", render_text(c), re.MULTILINE)


def test_unknown_version_is_a_usage_error_naming_it(both: Database) -> None:
    with pytest.raises(UsageError, match="'v9'"):
        compare(both, "v1", "v9")


def test_comparing_a_version_with_itself_is_a_usage_error(both: Database) -> None:
    with pytest.raises(UsageError, match="two different"):
        compare(both, "v1", "v1")


def test_json_output_round_trips_the_numbers(both: Database) -> None:
    c = compare(both, "v1", "v2", since=T0, channel_ids=[1001, 1002])
    loaded = json.loads(render_json(c))
    assert loaded["coverage"] == {"in_both": 4, "only_a": 1, "only_b": 1, "read_different_text": 0}
    assert loaded["agreement"]["topic"] == c.agreement.topic
    assert loaded["agreement"]["importance_mae"] == c.agreement.importance_mae
    assert loaded["confusion"] == c.confusion
    assert loaded["window"] == {"since": T0.isoformat(), "until": None, "channel_ids": [1001, 1002]}
    assert [d["message_id"] for d in loaded["most_different"]] == [1, 4, 2]
    assert datetime.fromisoformat(loaded["most_different"][0]["posted_at"]) == T0
    assert loaded["b"]["dead_jobs"] == 1
    assert loaded["a"]["prompt_tokens"] is None


def _column_of(line: str, cell: str) -> int:
    return line.index(cell) + len(cell)  # cells are right-aligned: their ends line up


def test_text_confusion_table_aligns_counts_under_their_topic(both: Database) -> None:
    text = render_text(compare(both, "v1", "v2"))
    table = text.split("TOPICS (rows v1, columns v2)\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    header, rows = table[0], {line.split()[0]: line for line in table[1:]}
    # Topics in the extraction model's order, the same on both axes.
    assert header.split()[3:] == ["markets", "macro", "energy", "crypto", "companies"]
    assert list(rows) == ["markets", "macro", "energy", "crypto", "companies"]
    macro_row = rows["macro"]
    assert macro_row.split()[1:] == ["1", "0", "0", "0", "0"]
    assert macro_row.index("1") + 1 == _column_of(header, "markets")
    assert len(macro_row) == _column_of(header, "companies")


def test_text_report_shows_versions_agreement_and_worst_post_side_by_side(both: Database) -> None:
    text = render_text(compare(both, "v1", "v2"))
    assert "posts: 4 in both, 1 only in v1, 1 only in v2" in text
    assert "topic                     50.0%" in text
    worst = text.split("MOST DIFFERENT", 1)[1]
    assert worst.index("@wirewatch/1 ") < worst.index("@marketpulse/4 ")
    assert f"post  {FED[:80]}" in worst
    assert "Fed on hold" in worst
