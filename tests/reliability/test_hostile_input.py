"""Hostile input: SQL-looking names through the commands, arbitrary input through the parsers.

Through the CLI, each hostile value gives either a result or one clear
`civicquant: error: ...` line with exit status 2, never a traceback, and every table is
intact afterwards. Below that, property-based tests feed arbitrary input to the parsers
and the renderer: each gives a result or civicquant's own error, never another exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from civicquant.errors import CivicquantError
from civicquant.extract.llm import OpenAICompatibleProvider
from civicquant.ingest.channels import ChannelSpec, parse_channel_specs
from civicquant.ingest.export_file import ExportFile
from civicquant.publish.render import (
    HEADLINE_MAX_CHARS,
    MESSAGE_LIMIT,
    DigestEvent,
    SourceLink,
    post_link,
    render_digest,
    utf16_len,
)
from civicquant.timeparse import parse_duration, parse_instant, parse_window
from tests import pg
from tests.fakes.bot_api import parse_telegram_html
from tests.reliability.support import (
    ERROR_PREFIX,
    SAMPLE_EXPORT,
    Processes,
    cli_env,
    public_tables,
    query,
    row_counts,
)

AT = "2026-11-20T10:00:00Z"
DROP = "@x'; DROP TABLE raw_messages; --"
DELETE = "x'); DELETE FROM events; --"
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- the commands ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Populated:
    url: str
    tables: list[str]
    counts: dict[str, int]


@pytest.fixture(scope="module")
def populated(
    pg_server: str, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Populated]:
    """A database with the sample imported and extracted, shared by the CLI cases."""
    name = pg.create_database(pg_server, template=template_db)
    url = pg.with_dbname(pg_server, name)
    home = tmp_path_factory.mktemp("hostile-home")
    processes = Processes(home / "setup")
    try:
        env = cli_env(url, home)
        imported = processes.cli(
            "backfill",
            "--from-export",
            str(SAMPLE_EXPORT),
            "--channels",
            "@wirewatch_demo",
            env=env,
        )
        assert imported.returncode == 0, imported.describe()
        extracted = processes.cli("extract", "--oneshot", env=env)
        assert extracted.returncode == 0, extracted.describe()
        yield Populated(url, public_tables(url), row_counts(url))
    finally:
        processes.cleanup()
        pg.drop_database(pg_server, name)


# Tables whose rows no hostile command may change (job_runs and leases record every run;
# a new pipeline version legitimately queues its own extraction jobs).
STABLE = (
    "channels",
    "raw_messages",
    "events",
    "event_sources",
    "extractions",
    "published_posts",
    "schema_migrations",
)

HOSTILE_RUNS: list[Any] = [
    pytest.param(
        ("backfill", "--from-export", str(SAMPLE_EXPORT), "--channels", DROP),
        {},
        id="backfill-export-channels",
    ),
    pytest.param(("listen", "--duration", "5s", "--channels", DROP), {}, id="listen-channels"),
    pytest.param(
        ("listen", "--duration", "5s"), {"TG_SOURCE_CHANNELS": DROP}, id="listen-TG_SOURCE_CHANNELS"
    ),
    pytest.param(("enqueue", "--channels", DROP), {}, id="enqueue-channels"),
    pytest.param(
        ("enqueue", "--channels", json.dumps([DELETE, "@wirewatch_demo"])),
        {},
        id="enqueue-channels-json",
    ),
    pytest.param(
        ("enqueue", "--channels", "Robert_DROP_TABLE_Students"), {}, id="enqueue-unknown-channel"
    ),
    pytest.param(("enqueue", "--channels", "@" + "x" * 100_000), {}, id="enqueue-huge-channel"),
    pytest.param(
        ("enqueue", "--pipeline-version", "v1'; DROP TABLE extraction_jobs; --"),
        {},
        id="enqueue-pipeline-version",
    ),
    pytest.param(
        ("enqueue", "--since", "2026-11-20'; DROP TABLE raw_messages; --"), {}, id="enqueue-since"
    ),
    pytest.param(
        ("extract", "--oneshot", "--pipeline-version", DELETE), {}, id="extract-pipeline-version"
    ),
    pytest.param(
        ("digest", "--dry-run", "--at", AT), {"DIGEST_TOPICS": DELETE}, id="digest-DIGEST_TOPICS"
    ),
    pytest.param(
        ("digest", "--dry-run", "--at", AT),
        {"DIGEST_EXCLUDE_TOPICS": DELETE},
        id="digest-DIGEST_EXCLUDE_TOPICS",
    ),
    pytest.param(
        ("digest", "--dry-run", "--at", AT, "--chat", "'; DROP TABLE published_posts"),
        {},
        id="digest-chat",
    ),
    pytest.param(
        ("digest", "--dry-run", "--at", AT, "--pipeline-version", "v1' OR '1'='1"),
        {},
        id="digest-pipeline-version",
    ),
    pytest.param(
        ("digest", "--dry-run", "--at", AT + "'; DROP TABLE events; --"), {}, id="digest-at"
    ),
    pytest.param(
        ("digest", "--dry-run", "--at", "0001-01-01T00:00:00+01:00"),
        {},
        id="digest-at-before-year-1-in-utc",
    ),
    pytest.param(
        ("digest", "--dry-run", "--at", "9999-12-31T23:59:59Z"),
        {},
        id="digest-at-last-window-of-year-9999",
    ),
    pytest.param(
        ("enqueue", "--since", "9999-12-31T23:59:59-01:00"),
        {},
        id="enqueue-since-after-year-9999-in-utc",
    ),
    pytest.param(
        ("extract", "--oneshot", "--max-runtime", "9" * 400),
        {},
        id="extract-max-runtime-400-digits",
    ),
    pytest.param(("runs", "--job", "x'; DROP TABLE job_runs; --"), {}, id="runs-job"),
    pytest.param(("compare", "v1'; DROP TABLE extractions; --", "v1"), {}, id="compare-version"),
    pytest.param(
        ("compare", "v1", "v1", "--format", "json", "--channels", DROP), {}, id="compare-channels"
    ),
    pytest.param(
        ("compare", "v1", "v2", "--channels", json.dumps([DELETE])), {}, id="compare-channels-json"
    ),
    pytest.param(
        ("compare", "v1", "v2", "--since", "2026-11-20'; DROP TABLE events; --"),
        {},
        id="compare-since",
    ),
    pytest.param(
        ("prune", "--dry-run", "--tables", "job_runs; DROP TABLE raw_messages; --"),
        {},
        id="prune-tables",
    ),
    pytest.param(
        ("prune", "--dry-run", "--older-than", "36500000d"), {}, id="prune-older-than-100000-years"
    ),
    pytest.param(
        ("prune", "--dry-run", "--older-than", "9" * 400 + "d"),
        {},
        id="prune-older-than-400-digits",
    ),
]


@pytest.mark.parametrize(("args", "extra_env"), HOSTILE_RUNS)
def test_hostile_value_gives_a_result_or_one_error_line_and_tables_stay_intact(
    args: tuple[str, ...],
    extra_env: dict[str, str],
    populated: Populated,
    procs: Processes,
    tmp_path: Path,
) -> None:
    result = procs.cli(*args, env=cli_env(populated.url, tmp_path / "home", **extra_env))
    assert "Traceback" not in result.output, result.describe()
    if result.returncode != 0:
        assert result.returncode == 2, result.describe()
        [line] = result.error_lines
        assert line.startswith(ERROR_PREFIX), line
    assert public_tables(populated.url) == populated.tables
    counts = row_counts(populated.url)
    assert {t: counts[t] for t in STABLE} == {t: populated.counts[t] for t in STABLE}


def test_hostile_health_job_names_give_a_report(
    populated: Populated, procs: Processes, tmp_path: Path
) -> None:
    env = cli_env(
        populated.url,
        tmp_path / "home",
        HEALTH_JOB_INTERVALS=json.dumps({"x'; DROP TABLE job_runs; --": 5, 'y"\n}': 1}),
    )
    result = procs.cli("health", "--format", "prometheus", env=env)
    assert result.returncode == 2, result.describe()  # jobs that never ran are down
    assert 'civicquant_job_consecutive_failures{job="y\\"\\n}"} 0' in result.stdout
    assert public_tables(populated.url) == populated.tables
    assert query(populated.url, "SELECT count(*) AS n FROM job_runs")[0]["n"] > 0


# -- the export parser ----------------------------------------------------------------------

JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
MESSAGE_FIELDS = {
    "id": st.integers(min_value=-5, max_value=2**64) | JSON_VALUES,
    "type": st.sampled_from(["message", "service", "unsupported", ""]) | JSON_VALUES,
    "date_unixtime": st.from_regex(r"[0-9]{1,12}", fullmatch=True) | JSON_VALUES,
    "text": st.text()
    | st.lists(
        st.text()
        | st.fixed_dictionaries(
            {"type": st.text(max_size=12), "text": st.text()},
            optional={"href": JSON_VALUES, "user_id": JSON_VALUES, "document_id": JSON_VALUES},
        ),
        max_size=4,
    )
    | JSON_VALUES,
    "photo": JSON_VALUES,
    "file": JSON_VALUES,
    "media_type": JSON_VALUES,
    "file_size": JSON_VALUES,
    "reply_to_message_id": JSON_VALUES,
    "edited_unixtime": JSON_VALUES,
    "forwarded_from": JSON_VALUES,
}
MESSAGES = st.fixed_dictionaries({}, optional=MESSAGE_FIELDS)
EXPORTS = st.fixed_dictionaries(
    {"messages": st.lists(MESSAGES | JSON_VALUES, max_size=5)},
    optional={
        "name": JSON_VALUES,
        "type": st.sampled_from(["public_channel", "private_channel", "personal_chat"])
        | JSON_VALUES,
        "id": st.integers(min_value=-5, max_value=2**64) | JSON_VALUES,
    },
)


def read_export(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "result.json"
    path.write_bytes(data)
    try:
        for _post in ExportFile(path):
            pass
    except CivicquantError:
        pass


@PROPERTY
@given(data=st.binary(max_size=2000))
def test_export_parser_on_arbitrary_bytes_raises_only_its_own_error(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    read_export(tmp_path_factory.mktemp("bytes"), data)


@PROPERTY
@given(
    export=EXPORTS,
    mangle=st.sampled_from(["none", "cut", "escape", "flip"]),
    where=st.floats(0, 1),
    byte=st.integers(0, 255),
)
def test_export_parser_on_mangled_exports_raises_only_its_own_error(
    tmp_path_factory: pytest.TempPathFactory, export: Any, mangle: str, where: float, byte: int
) -> None:
    data = json.dumps(export, ensure_ascii=False).encode("utf-8", "surrogatepass")
    at = int(len(data) * where)
    if mangle == "cut":
        data = data[:at]
    elif mangle == "escape":  # Telegram Desktop's \xNN, possibly broken
        data = data[:at] + b"\\x" + bytes([byte]) + data[at:]
    elif mangle == "flip" and data:
        data = data[:at] + bytes([byte]) + data[at + 1 :]
    read_export(tmp_path_factory.mktemp("export"), data)


@PROPERTY
@given(cut=st.integers(0, SAMPLE_EXPORT.stat().st_size), byte=st.integers(0, 255))
def test_export_parser_on_a_real_export_cut_or_corrupted_anywhere(
    tmp_path_factory: pytest.TempPathFactory, cut: int, byte: int
) -> None:
    data = SAMPLE_EXPORT.read_bytes()
    folder = tmp_path_factory.mktemp("sample")
    read_export(folder, data[:cut])
    read_export(folder, data[:cut] + bytes([byte]) + data[cut + 1 :])


# -- the LLM answer parser ------------------------------------------------------------------

EXTRACTION_FIELDS = {
    "topic": st.sampled_from(["markets", "macro", "crypto", "other", ""]) | JSON_VALUES,
    "headline": st.text(max_size=250) | JSON_VALUES,
    "summary": st.text(max_size=50) | JSON_VALUES,
    "entities": st.lists(
        st.fixed_dictionaries(
            {"kind": st.sampled_from(["country", "ticker", "x"]), "text": st.text(max_size=10)}
        )
        | JSON_VALUES,
        max_size=3,
    )
    | JSON_VALUES,
    "is_breaking": st.booleans() | JSON_VALUES,
    "breaking_window": st.sampled_from(["15m", "1h", "4h", None]) | JSON_VALUES,
    "importance": st.floats(allow_nan=True, allow_infinity=True) | JSON_VALUES,
    "language": st.sampled_from(["en", "und", "EN", "english"]) | JSON_VALUES,
    "extra": JSON_VALUES,
}
CONTENTS = (
    st.fixed_dictionaries({}, optional=EXTRACTION_FIELDS).map(json.dumps)
    | st.fixed_dictionaries({}, optional=EXTRACTION_FIELDS).map(
        lambda value: f"```json\n{json.dumps(value)}\n```"
    )
    | st.text()
    | JSON_VALUES
)
COMPLETIONS = st.fixed_dictionaries(
    {},
    optional={
        "choices": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "message": st.fixed_dictionaries(
                        {}, optional={"content": CONTENTS, "refusal": JSON_VALUES}
                    )
                    | JSON_VALUES,
                    "finish_reason": st.sampled_from(["stop", "length"]) | JSON_VALUES,
                },
            )
            | JSON_VALUES,
            max_size=2,
        )
        | JSON_VALUES,
        "usage": st.fixed_dictionaries(
            {}, optional={"prompt_tokens": JSON_VALUES, "completion_tokens": JSON_VALUES}
        )
        | JSON_VALUES,
    },
)
BODIES = (
    COMPLETIONS.map(lambda value: json.dumps(value).encode())
    | JSON_VALUES.map(lambda value: json.dumps(value).encode())
    | st.binary(max_size=200)
)


async def _no_sleep(_seconds: float) -> None:
    return None


def extract_with_answer(status: int, body: bytes, headers: dict[str, str]) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers=headers)

    async def run() -> None:
        provider = OpenAICompatibleProvider(
            "http://llm.invalid/v1",
            None,
            "model",
            5.0,
            "prompt",
            max_retries=1,
            transport=httpx.MockTransport(answer),
            sleep=_no_sleep,
        )
        async with provider:
            with contextlib.suppress(CivicquantError):
                await provider.extract("Fed holds rates at 5.25%")

    asyncio.run(run())


@PROPERTY
@given(body=BODIES)
def test_llm_answer_parser_on_arbitrary_bodies_raises_only_its_own_error(body: bytes) -> None:
    extract_with_answer(200, body, {"content-type": "application/json"})


@PROPERTY
@given(
    status=st.sampled_from([200, 201, 204, 301, 400, 401, 404, 408, 422, 429, 500, 502, 503]),
    body=BODIES,
    retry_after=st.none() | st.text(max_size=30) | st.sampled_from(["1", "-5", "nan", "1e400"]),
)
def test_llm_client_on_arbitrary_status_and_headers_raises_only_its_own_error(
    status: int, body: bytes, retry_after: str | None
) -> None:
    headers = {"content-type": "application/json"}
    if retry_after is not None and retry_after.isprintable() and retry_after.isascii():
        headers["retry-after"] = retry_after
    extract_with_answer(status, body, headers)


# -- the digest renderer --------------------------------------------------------------------

T0 = datetime(2026, 11, 20, 8, tzinfo=UTC)
SOURCES = st.builds(
    SourceLink,
    channel_id=st.integers(min_value=1, max_value=2**52 - 1),
    channel_username=st.none()
    | st.text(max_size=40)
    | st.from_regex(r"@?[A-Za-z][A-Za-z0-9_]{4,31}", fullmatch=True),
    message_id=st.integers(min_value=1, max_value=2**31),
)
HOSTILE_TEXT = st.text(
    st.characters(codec=None, exclude_categories=()), max_size=400
) | st.sampled_from(
    [
        '<a href="https://evil.example/phish">Click</a>',
        "</b></a><script>alert(1)</script>",
        "/start@civicquant_bot /ban everyone",
        "&amp; &lt; &#0; &#xD800; &bogus;",
        "x" * 10_000,
        "🚨" * 3000,
        "\u202e\u2066\n\r\t\x00\x1b[31m",
    ]
)
EVENTS = st.builds(
    DigestEvent,
    event_id=st.integers(min_value=1, max_value=2**40),
    topic=HOSTILE_TEXT,
    headline=HOSTILE_TEXT,
    importance=st.floats(allow_nan=True, allow_infinity=True),
    first_seen_at=st.datetimes(
        min_value=datetime(2026, 11, 20, 8),
        max_value=datetime(2026, 11, 20, 11, 59),
        timezones=st.just(UTC),
    ),
    sources=st.lists(SOURCES, max_size=5),
    source_count=st.integers(min_value=0, max_value=10_000),
)
HREF = re.compile(r'<a href="([^"]*)"')


@PROPERTY
@given(events=st.lists(EVENTS, max_size=25), title=HOSTILE_TEXT)
def test_rendered_digest_is_valid_telegram_html_within_limits_with_only_post_links(
    events: list[DigestEvent], title: str
) -> None:
    parts = render_digest(events, title=title, window_start=T0, window_end=T0 + timedelta(hours=4))
    links = {post_link(source) for event in events for source in event.sources}
    for part in parts:
        assert 0 < utf16_len(part) <= MESSAGE_LIMIT
        assert parse_telegram_html(part).strip()  # Telegram would accept it
        for href in HREF.findall(part):
            assert href.replace("&amp;", "&") in links
        assert "<script" not in part


def as_shown(headline: str) -> str:
    """What a reader should see of a headline: its text on one line, cut with an ellipsis."""
    flat = re.sub("[\ud800-\udfff]", "\ufffd", re.sub("[\x00-\x1f\x7f-\x9f]", " ", headline))
    flat = " ".join(flat.split())
    if len(flat) <= HEADLINE_MAX_CHARS:
        return flat
    return flat[: HEADLINE_MAX_CHARS - 1].rstrip() + "…"


@example(headline='<a href="https://evil.example/phish">Click me</a>')
@example(headline="<b>bold</b> <i>x</i> </a> & /start@civicquant_bot /ban")
@example(headline="/start " + "y" * 10_000)
@PROPERTY
@given(headline=HOSTILE_TEXT)
def test_llm_headline_comes_out_escaped_and_truncated(headline: str) -> None:
    source = SourceLink(1001, "wirewatch", 7)
    event = DigestEvent(1, "markets", headline, 0.5, T0, [source], 1)
    parts = render_digest(
        [event], title="Digest", window_start=T0, window_end=T0 + timedelta(hours=4)
    )
    expected = as_shown(headline)
    if not expected:
        assert parts == []
        return
    [part] = parts
    assert HREF.findall(part) == [post_link(source)]
    [line] = [line for line in part.split("\n") if line.startswith("• ")]
    # Every character of the headline is shown as text: no tag, entity or link survives.
    shown = parse_telegram_html(line).removeprefix("• ").removesuffix(" — wirewatch")
    assert shown == expected


# -- channel specs and time windows ---------------------------------------------------------

CHANNEL_TEXT = (
    st.text(max_size=80)
    | st.lists(
        st.sampled_from(["@", "t.me/", "https://t.me/c/", "-100", "joinchat/", "+", "s/"])
        | st.text(string.ascii_letters + string.digits + "_/@-.:", max_size=40),
        max_size=6,
    ).map("".join)
    | st.lists(st.text(max_size=20) | st.integers() | JSON_VALUES, max_size=5).map(json.dumps)
    | st.from_regex(r"\[.*", fullmatch=True)
)


@PROPERTY
@given(value=CHANNEL_TEXT)
def test_channel_specs_parse_or_raise_only_a_usage_error(value: str) -> None:
    try:
        specs = parse_channel_specs(value)
    except CivicquantError:
        return
    assert all(isinstance(spec, ChannelSpec) for spec in specs)
    assert len(set(specs)) == len(specs)
    for spec in specs:
        if spec.channel_id is not None:
            assert 0 < spec.channel_id < 2**52


INSTANTS = (
    st.text(max_size=40)
    | st.datetimes(timezones=st.timezones() | st.none()).map(lambda d: d.isoformat())
    | st.builds(
        lambda d, offset: f"{d.isoformat()}{offset}",
        st.datetimes(),
        st.sampled_from(["Z", "z", "+00:00", "+14:00", "-12:00", "+23:59", "-23:59"]),
    )
)
DURATIONS = st.text(max_size=30) | st.from_regex(
    r"\s*[0-9]{1,400}(\.[0-9]{0,5})?\s*[smhdSMHD]?\s*", fullmatch=True
)


@PROPERTY
@example(value="0001-01-01T00:00:00+01:00")
@example(value="9999-12-31T23:59:59-01:00")
@given(value=INSTANTS)
def test_parse_instant_gives_an_aware_utc_time_or_a_usage_error(value: str) -> None:
    try:
        parsed = parse_instant(value, "--at")
    except CivicquantError:
        return
    assert parsed.tzinfo is not None
    assert parsed.utcoffset() == timedelta(0)


@PROPERTY
@given(since=st.none() | INSTANTS, until=st.none() | INSTANTS)
def test_parse_window_gives_an_ordered_window_or_a_usage_error(
    since: str | None, until: str | None
) -> None:
    try:
        window = parse_window(since, until)
    except CivicquantError:
        return
    if window.since is not None and window.until is not None:
        assert window.since < window.until


@PROPERTY
@example(value="9" * 400)
@given(value=DURATIONS)
def test_parse_duration_gives_a_finite_positive_duration_or_a_usage_error(value: str) -> None:
    try:
        seconds = parse_duration(value, "--max-runtime")
    except CivicquantError:
        return
    assert math.isfinite(seconds)
    assert seconds > 0
