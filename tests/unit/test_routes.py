"""Routes: the routes file parsed, its mistakes named in one line, the defaults today's."""

from __future__ import annotations

from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from civicquant.config import Settings, load_settings
from civicquant.errors import ConfigError, UsageError
from civicquant.ops import crontab
from civicquant.publish.routes import (
    Route,
    cron_schedule,
    default_routes,
    load_routes,
    parse_routes,
    render_routes,
)

GOOD = """
[[route]]
name = "energy"
kind = "digest"
every = "1h"
chat_id = -1002000000001
title = "Energy desk"
topics = ["energy", "markets"]
exclude_topics = ["crypto"]
channels = ["@WireWatch", "marketpulse"]
languages = ["en", "ru"]
keywords = ["OPEC", "Brent"]
min_importance = 0.3
max_events = 5

[[route]]
name = "alerts"
kind = "breaking"
every = "15m"
chat_id = "@alerts_channel"

[[route]]
name = "flash-desk"
kind = "flash"
chat_id = "-1002000000003"
"""

# Today's crontab lines for the digest queues, as shipped before routes existed.
TODAYS_DIGEST_LINES = [
    "0 */4 * * *   {civicquant} digest --queue vip > /dev/null 2>> {log_dir}/digest.log",
    "*/15 * * * *  {civicquant} digest --queue breaking_15m > /dev/null 2>> {log_dir}/digest.log",
    "2 * * * *     {civicquant} digest --queue breaking_1h > /dev/null 2>> {log_dir}/digest.log",
    "4 */4 * * *   {civicquant} digest --queue breaking_4h > /dev/null 2>> {log_dir}/digest.log",
    # The flash route's outbox drain (what extract's own drainer left), every minute.
    "* * * * *     {civicquant} digest --queue flash > /dev/null 2>> {log_dir}/digest.log",
]


def route(text: str, **fields: Any) -> str:
    """One [[route]] table: a valid digest route with `fields` replaced (None: left out)."""
    base: dict[str, Any] = {"name": '"desk"', "kind": '"digest"', "every": '"1h"', "chat_id": "-1"}
    base.update(fields)
    body = "\n".join(f"{key} = {value}" for key, value in base.items() if value is not None)
    return f"{text}\n[[route]]\n{body}\n"


def problem(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_routes(text, Settings(), where="r.toml")
    message = str(caught.value)
    assert "\n" not in message
    assert caught.value.exit_code == 2
    return message


def test_a_good_file_gives_each_route_its_fields() -> None:
    energy, alerts, flash = parse_routes(GOOD, Settings())
    assert energy == Route(
        name="energy",
        kind="digest",
        every=timedelta(hours=1),
        chat_id="-1002000000001",
        title="Energy desk",
        min_importance=0.3,
        topics=("energy", "markets"),
        exclude_topics=("crypto",),
        channels=("wirewatch", "marketpulse"),
        languages=("en", "ru"),
        keywords=("OPEC", "Brent"),
        max_events=5,
    )
    assert (alerts.kind, alerts.breaking_window, alerts.chat_id) == (
        "breaking",
        "15m",
        "@alerts_channel",
    )
    assert (flash.kind, flash.every, flash.chat_id) == ("flash", None, "-1002000000003")


def test_omitted_importance_takes_the_kinds_setting() -> None:
    settings = Settings(breaking_min_importance=0.5, breaking_min_importance_1h=0.9)
    text = route("", name='"b"', kind='"breaking"') + route(
        "", name='"f"', kind='"flash"', every=None
    )
    text += route("", name='"d"')
    breaking, flash, digest = parse_routes(text, settings)
    assert (breaking.min_importance, flash.min_importance, digest.min_importance) == (
        0.9,
        0.85,
        0.05,  # DIGEST_MIN_IMPORTANCE
    )


def test_the_shipped_example_file_parses() -> None:
    text = (resources.files("civicquant") / "cron" / "routes.example.toml").read_text("utf-8")
    names = [r.name for r in parse_routes(text, Settings())]
    assert names == ["vip", "energy_desk", "ukraine_desk", "breaking_15m", "flash"]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"kind": '"weekly"'}, "route 'desk': kind: must be 'digest', 'breaking' or 'flash'"),
        ({"every": '"45 minutes"'}, "route 'desk': every: must be a cadence"),
        ({"every": '"30s"'}, "route 'desk': every: must be a cadence"),
        ({"every": '"8d"'}, "route 'desk': every: must be from 1m to 7d"),
        ({"every": None}, "route 'desk': every: missing"),
        ({"kind": '"breaking"', "every": '"30m"'}, "route 'desk': every: a breaking route runs"),
        ({"kind": '"flash"'}, "route 'desk': every: a flash route is sent by extract"),
        ({"chat_id": '"vip chat"'}, "route 'desk': chat_id: must be a chat id"),
        ({"chat_id": None}, "route 'desk': chat_id: missing"),
        ({"min_importance": "1.5"}, "route 'desk': min_importance: must be a number from 0 to 1"),
        ({"min_importance": '"high"'}, "route 'desk': min_importance: must be a number"),
        ({"max_events": "0"}, "route 'desk': max_events: must be a whole number of at least 1"),
        ({"max_events": "2.5"}, "route 'desk': max_events: must be a whole number"),
        ({"topics": '"energy"'}, "route 'desk': topics: must be a non-empty list"),
        ({"topics": '["Energy"]'}, "route 'desk': topics: 'Energy' is not one of lowercase topic"),
        ({"exclude_topics": "[]"}, "route 'desk': exclude_topics: must be a non-empty list"),
        ({"channels": '["@a b"]'}, "route 'desk': channels: '@a b' is not one of channel @names"),
        ({"languages": '["English"]'}, "route 'desk': languages: 'English' is not one of ISO"),
        ({"keywords": '[""]'}, "route 'desk': keywords: must be a non-empty list of words"),
        ({"title": '""'}, "route 'desk': title: must be text of 1-100 characters"),
        ({"name": '"Desk One"'}, "route 'Desk One': name: must be 1-40 of a-z"),
        ({"name": None}, "route #1: name: missing"),
        ({"topic": '["energy"]'}, "route 'desk': topic: unknown field; did you mean 'topics'?"),
    ],
)
def test_each_bad_field_is_one_line_naming_the_route_and_the_field(
    fields: dict[str, Any], named: str
) -> None:
    message = problem(route("", **fields))
    assert message.startswith(f"routes file r.toml: {named}"), message


def test_a_second_route_of_the_same_name_is_refused() -> None:
    message = problem(route(route(""), chat_id="-2"))
    assert message == (
        "routes file r.toml: route 'desk': name: used by an earlier route;"
        " each route needs its own name (it keys the route's ledger)"
    )


def test_the_second_of_several_routes_is_named_in_its_error() -> None:
    message = problem(route(route("", name='"first"'), name='"second"', every='"soon"'))
    assert "route 'second': every:" in message


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[[route]\nname = 1", "not valid TOML: "),
        ("", "no routes; add a [[route]] table"),
        ('[routes]\nname = "x"', "unknown table or key 'routes'"),
        (route("") + "[defaults]\nevery = '1h'\n", "unknown table or key 'defaults'"),
    ],
)
def test_a_file_that_is_not_a_list_of_routes_is_one_line(text: str, named: str) -> None:
    assert named in problem(text)


def test_a_missing_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CIVICQUANT_ROUTES", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match=r"^CIVICQUANT_ROUTES=.*nope.toml: no such file$"):
        load_routes(load_settings())


def test_the_file_named_by_civicquant_routes_replaces_the_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "routes.toml").write_text(GOOD)
    monkeypatch.setenv("CIVICQUANT_ROUTES", str(tmp_path / "routes.toml"))
    routes = load_routes(load_settings())
    assert [r.name for r in routes] == ["energy", "alerts", "flash-desk"]
    assert routes.source == tmp_path / "routes.toml"
    with pytest.raises(UsageError, match=r"no route named 'vip' \(known: energy, alerts"):
        routes.named("vip")


# -- the defaults: today's queues from today's variables ---------------------------------


def test_without_a_file_the_routes_are_todays_queues() -> None:
    settings = Settings(
        tg_vip_chat_id="-100777",
        vip_digest_hours=4,
        digest_topics="energy, macro",
        digest_exclude_topics="crypto",
        breaking_min_importance=0.6,
        breaking_min_importance_15m=0.8,
        flash_min_importance=0.9,
    )
    routes = {r.name: r for r in default_routes(settings)}
    assert list(routes) == ["vip", "breaking_15m", "breaking_1h", "breaking_4h", "flash"]
    assert {r.chat_id for r in routes.values()} == {"-100777"}
    vip = routes["vip"]
    assert (vip.kind, vip.every, vip.title, vip.min_importance) == (
        "digest",
        timedelta(hours=4),
        "Digest",
        0.05,  # DIGEST_MIN_IMPORTANCE
    )
    assert (vip.topics, vip.exclude_topics) == (("energy", "macro"), ("crypto",))
    assert [(r.breaking_window, r.min_importance, r.title) for r in list(routes.values())[1:4]] == [
        ("15m", 0.8, "Breaking, last 15 minutes"),
        ("1h", 0.6, "Breaking, last hour"),
        ("4h", 0.6, "Breaking, last 4 hours"),
    ]
    flash = routes["flash"]
    assert (flash.kind, flash.every, flash.min_importance, flash.topics) == ("flash", None, 0.9, ())


def test_default_routes_keep_todays_crontab_lines_and_health_intervals() -> None:
    routes = default_routes(Settings())
    assert crontab.route_lines(routes).splitlines() == TODAYS_DIGEST_LINES
    assert routes.job_intervals() == {
        "digest:vip": 240,
        "digest:breaking_15m": 15,
        "digest:breaking_1h": 60,
        "digest:breaking_4h": 240,
        "digest:flash": 1,
    }


def test_vip_digest_hours_sets_the_vip_window() -> None:
    vip = default_routes(Settings(vip_digest_hours=6)).named("vip")
    assert (vip.every, cron_schedule(vip)) == (timedelta(hours=6), "0 */6 * * *")


@pytest.mark.parametrize(
    ("every", "schedule"),
    [
        ("1m", "* * * * *"),
        ("15m", "*/15 * * * *"),
        ("45m", "*/15 * * * *"),
        ("90m", "*/30 * * * *"),
        ("1h", "0 * * * *"),
        ("5h", "0 * * * *"),
        ("6h", "0 */6 * * *"),
        ("1d", "0 0 * * *"),
        ("2d", "0 0 * * *"),
    ],
)
def test_cron_runs_each_route_at_every_end_of_its_windows(every: str, schedule: str) -> None:
    [parsed] = parse_routes(route("", every=f'"{every}"'), Settings())
    assert cron_schedule(parsed) == schedule


def test_the_crontab_has_one_line_per_route_and_drains_flash_every_minute(tmp_path: Path) -> None:
    text = crontab.render(
        env_file=tmp_path / "e",
        log_dir=tmp_path,
        textfile=tmp_path / "p",
        program=Path("/bin/cq"),
        routes=load_routes_from(GOOD, tmp_path),
    )
    digest_lines = [line for line in text.splitlines() if " digest --queue " in line]
    assert digest_lines == [
        f"0 * * * *     /bin/cq digest --queue energy > /dev/null 2>> {tmp_path}/digest.log",
        f"*/15 * * * *  /bin/cq digest --queue alerts > /dev/null 2>> {tmp_path}/digest.log",
        f"* * * * *     /bin/cq digest --queue flash-desk > /dev/null 2>> {tmp_path}/digest.log",
    ]


def load_routes_from(text: str, tmp_path: Path) -> Any:
    (tmp_path / "routes.toml").write_text(text)
    return load_routes(Settings(civicquant_routes=tmp_path / "routes.toml"))


# -- filters -----------------------------------------------------------------------------


def event(**fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "topic": "energy",
        "importance": 0.5,
        "language": "en",
        "headline": "Brent jumps 4% after OPEC+ extends cuts",
        "summary": "",
        "sources": [{"username": "wirewatch"}],
    }
    return row | fields


def test_filters_select_by_topic_channel_language_keyword_and_importance() -> None:
    [energy, *_] = parse_routes(GOOD, Settings())
    assert energy.accepts(event())
    assert energy.accepts(event(sources=[{"username": "other"}, {"username": "MarketPulse"}]))
    assert energy.accepts(event(headline="Oil up", summary="brent crude rose"))
    assert not energy.accepts(event(topic="macro"))
    assert not energy.accepts(event(topic="crypto"))
    assert not energy.accepts(event(sources=[{"username": None}, {"username": "other"}]))
    assert not energy.accepts(event(language="uk"))
    assert not energy.accepts(event(headline="Gas prices rise", summary=""))
    assert not energy.accepts(event(importance=0.29))


def test_max_events_keeps_the_first_most_important_ones() -> None:
    [energy, *_] = parse_routes(GOOD, Settings())
    rows = [event(importance=1 - i / 10, headline=f"Brent {i}") for i in range(7)]
    assert [r["headline"] for r in energy.select(rows)] == [f"Brent {i}" for i in range(5)]


def test_routes_listing_names_the_source_and_warns_of_unknown_topics(tmp_path: Path) -> None:
    routes = load_routes_from(route("", topics='["energy", "sport"]'), tmp_path)
    text = render_routes(routes, known_topics=("energy", "macro"))
    lines = text.splitlines()
    assert lines[0] == f"routes from {tmp_path / 'routes.toml'}"
    assert lines[1].split() == ["NAME", "KIND", "EVERY", "CRON", "CHAT", "TITLE", "FILTERS"]
    assert lines[2].split() == [
        "desk",
        "digest",
        "1h",
        "0",
        "*",
        "*",
        "*",
        "*",
        "-1",
        "Digest",
        "topics=energy,sport",
        "min_importance=0.05",
    ]
    assert lines[3] == (
        "warning: route 'desk': topic 'sport' is not one extraction knows (energy, macro):"
        " it matches nothing"
    )
