"""Routes: where events are published, how often, and which ones each destination gets.

A route is a destination (a chat) with a kind, a cadence and filters:

- `digest`: the events first seen in each window of `every` (aligned: 4h windows start at
  00:00, 04:00, ... UTC), grouped by topic;
- `breaking`: the events extraction marked breaking within `every` (15m, 1h or 4h, the
  breaking windows an extraction can mark), above `min_importance`;
- `flash`: each breaking event above `min_importance` at once: extraction queues it in the
  flash outbox, and `extract`'s background drainer or `digest --queue NAME` (cron, every
  minute) sends it (`civicquant.publish.flash`).

The routes come from the TOML file named by CIVICQUANT_ROUTES (one `[[route]]` table per
route), else they are the built-in ones made from today's settings: `vip`,
`breaking_15m`, `breaking_1h`, `breaking_4h` and `flash`. A route's name is its key in the
publication ledger, its job name (`digest:NAME`) and its lease, so the built-in names keep
the ledgers of installations that had no routes file.

Only the standard library is imported here: `health` and `cron` read the routes at start.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

from civicquant.config import Settings
from civicquant.errors import ConfigError, UsageError

EventRow = TypeVar("EventRow", bound=Mapping[str, Any])
RouteKind = Literal["digest", "breaking", "flash"]
KINDS: Final[tuple[RouteKind, ...]] = ("digest", "breaking", "flash")

# The breaking windows an extraction can mark (civicquant.extraction.BreakingWindow): a
# breaking route publishes the events marked with the window equal to its cadence.
BREAKING_WINDOWS: Final[dict[timedelta, str]] = {
    timedelta(minutes=15): "15m",
    timedelta(hours=1): "1h",
    timedelta(hours=4): "4h",
}

FIELDS: Final = (
    "name",
    "kind",
    "every",
    "chat_id",
    "title",
    "topics",
    "exclude_topics",
    "channels",
    "languages",
    "keywords",
    "min_importance",
    "max_events",
)
_REQUIRED: Final = ("name", "kind", "chat_id")
# Names become job names, lease names, log fields and crontab words: keep them plain.
_NAME: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_TOPIC: Final = re.compile(r"[a-z][a-z_-]*")
_CHANNEL: Final = re.compile(r"@?([A-Za-z][A-Za-z0-9_]{3,31})")
_LANGUAGE: Final = re.compile(r"[a-z]{2,3}")  # ISO 639-1 (or -3), as extractions store it
_EVERY: Final = re.compile(r"\s*(\d+)\s*([mhd])\s*")
_UNIT_MINUTES: Final = {"m": 1, "h": 60, "d": 1440}
# A week: no measurement chose it; a longer window is an archive rather than a digest.
_LONGEST: Final = timedelta(days=7)
# A flash route's outbox is drained by cron every minute (extract's drainer sends sooner):
# cron's finest step, so an alert extract left behind waits at most about a minute.
FLASH_DRAIN_MINUTES: Final = 1
_DEFAULT_TITLES: Final[dict[RouteKind, str]] = {
    "digest": "Digest",
    "breaking": "Breaking",
    "flash": "Breaking",
}


@dataclass(frozen=True, slots=True)
class Route:
    """One destination: what it publishes, where, how often, and its filters."""

    name: str
    kind: RouteKind
    # The cadence and window length; None for a flash route (sent as events break, its
    # outbox drained every minute).
    every: timedelta | None
    chat_id: str | None  # None only for a built-in route while TG_VIP_CHAT_ID is unset
    title: str
    min_importance: float = 0.0
    topics: tuple[str, ...] = ()
    exclude_topics: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()  # usernames, lowercase, without the @
    languages: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    max_events: int | None = None
    # The minute past the hour its cron line starts at (the built-in breaking queues' own).
    cron_minute: int = 0

    @property
    def job(self) -> str:
        """The job (and lease) name of its runs: `digest:NAME`. A flash route's drainers,
        extract's and cron's, take the same lease, so one drains it at a time."""
        return f"digest:{self.name}"

    @property
    def breaking_window(self) -> str | None:
        """The breaking window a breaking route publishes; None for the other kinds."""
        if self.kind != "breaking" or self.every is None:
            return None
        return BREAKING_WINDOWS[self.every]

    def accepts(self, event: Mapping[str, Any]) -> bool:
        """Whether an event row (topic, importance, language, headline, summary, sources)
        passes this route's filters."""
        topic = event.get("topic")
        if self.topics and topic not in self.topics:
            return False
        if topic in self.exclude_topics:
            return False
        if float(event.get("importance") or 0.0) < self.min_importance:
            return False
        if self.languages and event.get("language") not in self.languages:
            return False
        if self.channels:
            names = {str(s.get("username") or "").lower() for s in event.get("sources") or ()}
            if not names & set(self.channels):
                return False
        if self.keywords:
            text = f"{event.get('headline') or ''}\n{event.get('summary') or ''}".casefold()
            if not any(keyword.casefold() in text for keyword in self.keywords):
                return False
        return True

    def select(self, events: Iterable[EventRow]) -> list[EventRow]:
        """The events (most important first, as given) this route publishes, at most
        `max_events` of them."""
        kept = [event for event in events if self.accepts(event)]
        return kept if self.max_events is None else kept[: self.max_events]

    def describe_every(self) -> str:
        """The cadence as written in a routes file (`4h`, `15m`), or `with extract`."""
        if self.every is None:
            return "with extract"
        return format_every(self.every)

    def filters(self) -> str:
        """Its filters in one short line, for `civicquant routes`."""
        shown = []
        for label, values in (
            ("topics", self.topics),
            ("exclude_topics", self.exclude_topics),
            ("channels", tuple(f"@{name}" for name in self.channels)),
            ("languages", self.languages),
            ("keywords", self.keywords),
        ):
            if values:
                shown.append(f"{label}={','.join(values)}")
        if self.min_importance:
            shown.append(f"min_importance={self.min_importance:g}")
        if self.max_events is not None:
            shown.append(f"max_events={self.max_events}")
        return " ".join(shown) or "-"


@dataclass(frozen=True, slots=True)
class Routes:
    """The effective routes and where they came from (a file, or the settings)."""

    routes: tuple[Route, ...]
    source: Path | None = None

    def __iter__(self) -> Iterator[Route]:
        return iter(self.routes)

    def named(self, name: str) -> Route:
        """The route called `name`; UsageError naming the known ones otherwise."""
        for route in self.routes:
            if route.name == name:
                return route
        known = ", ".join(route.name for route in self.routes)
        raise UsageError(f"no route named {name!r} (known: {known})")

    def scheduled(self, name: str) -> Route:
        """The digest or breaking route called `name`, for a digest's window; UsageError
        naming the known ones, or saying a flash route has no windows."""
        route = self.named(name)
        if route.every is None:
            raise UsageError(
                f"route {route.name!r} is a flash route: it has no digest windows"
                " (`digest --queue` drains its flash outbox)"
            )
        return route

    def of_kind(self, *kinds: RouteKind) -> list[Route]:
        return [route for route in self.routes if route.kind in kinds]

    def job_intervals(self) -> dict[str, int]:
        """Expected minutes between successes of each route's job, for health: a digest or
        breaking route's cadence; a flash route's drain, every minute (FLASH_DRAIN_MINUTES).
        A quiet minute's drain, nothing to send, is a success too."""
        return {
            route.job: FLASH_DRAIN_MINUTES
            if route.every is None
            else max(1, int(route.every.total_seconds() // 60))
            for route in self.routes
        }

    def unknown_topics(self, known: Iterable[str]) -> list[tuple[str, str]]:
        """(route, topic) for each topic filter naming no topic extraction knows."""
        known_set = set(known)
        return [
            (route.name, topic)
            for route in self.routes
            for topic in (*route.topics, *route.exclude_topics)
            if topic not in known_set
        ]


def load_routes(settings: Settings) -> Routes:
    """The routes of CIVICQUANT_ROUTES, else the built-in ones; ConfigError in one line."""
    path = settings.civicquant_routes
    if path is None:
        return default_routes(settings)
    path = path.expanduser()
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"CIVICQUANT_ROUTES={path}: no such file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"routes file {path}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"routes file {path}: {exc.strerror or 'cannot be read'}") from None
    return Routes(parse_routes(text, settings, where=str(path)), source=path)


def default_routes(settings: Settings) -> Routes:
    """Today's routes from today's settings: what an installation without a file has."""
    chat = settings.tg_vip_chat_id or None
    topics = tuple(settings.digest_topic_list())
    exclude = tuple(settings.digest_exclude_topic_list())

    def breaking(name: str, every: timedelta, title: str, cron_minute: int) -> Route:
        return Route(
            name,
            "breaking",
            every,
            chat,
            title,
            min_importance=settings.breaking_min_importance_for(name),
            topics=topics,
            exclude_topics=exclude,
            cron_minute=cron_minute,
        )

    return Routes(
        (
            Route(
                "vip",
                "digest",
                timedelta(hours=settings.vip_digest_hours),
                chat,
                "Digest",
                min_importance=settings.digest_min_importance,
                topics=topics,
                exclude_topics=exclude,
            ),
            breaking("breaking_15m", timedelta(minutes=15), "Breaking, last 15 minutes", 0),
            breaking("breaking_1h", timedelta(hours=1), "Breaking, last hour", 2),
            breaking("breaking_4h", timedelta(hours=4), "Breaking, last 4 hours", 4),
            Route("flash", "flash", None, chat, "Breaking", settings.flash_min_importance),
        )
    )


def parse_routes(text: str, settings: Settings, *, where: str = "routes file") -> tuple[Route, ...]:
    """The routes of a routes file's text; ConfigError naming the route and field."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"routes file {where}: not valid TOML: {exc}") from None
    extra = sorted(set(document) - {"route"})
    if extra:
        raise ConfigError(
            f"routes file {where}: unknown table or key {extra[0]!r}; "
            "each route is a [[route]] table"
        )
    tables = document.get("route")
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"routes file {where}: no routes; add a [[route]] table for each")
    routes: list[Route] = []
    for number, table in enumerate(tables, start=1):
        label = f"route #{number}"
        if isinstance(table, dict) and isinstance(table.get("name"), str):
            label = f"route {table['name']!r}"
        try:
            if not isinstance(table, dict):
                raise _FieldError("route", "must be a [[route]] table")
            route = _route(table, settings)
        except _FieldError as problem:
            raise ConfigError(
                f"routes file {where}: {label}: {problem.field}: {problem.reason}"
            ) from None
        if any(existing.name == route.name for existing in routes):
            raise ConfigError(
                f"routes file {where}: {label}: name: used by an earlier route; "
                "each route needs its own name (it keys the route's ledger)"
            )
        routes.append(route)
    return tuple(routes)


class _FieldError(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _route(table: Mapping[str, Any], settings: Settings) -> Route:
    for key in table:
        if key not in FIELDS:
            close = difflib.get_close_matches(key, FIELDS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(FIELDS)})"
            raise _FieldError(key, f"unknown field{hint}")
    for key in _REQUIRED:
        if key not in table:
            raise _FieldError(key, "missing; every route needs name, kind and chat_id")
    name = table["name"]
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise _FieldError(
            "name", "must be 1-40 of a-z, 0-9, _ and -, starting with a letter or digit"
        )
    kind = table["kind"]
    if kind not in KINDS:
        raise _FieldError("kind", "must be 'digest', 'breaking' or 'flash'")
    every = _every(table.get("every"), kind)
    return Route(
        name=name,
        kind=kind,
        every=every,
        chat_id=_chat_id(table["chat_id"]),
        title=_title(table.get("title", _DEFAULT_TITLES[kind])),
        min_importance=_importance(table.get("min_importance"), kind, every, name, settings),
        topics=_words(table, "topics", _TOPIC, "lowercase topic names, e.g. ['energy']"),
        exclude_topics=_words(
            table, "exclude_topics", _TOPIC, "lowercase topic names, e.g. ['crypto']"
        ),
        channels=tuple(
            _CHANNEL.fullmatch(channel).group(1).lower()  # type: ignore[union-attr]
            for channel in _words(table, "channels", _CHANNEL, "channel @names, e.g. ['@wire']")
        ),
        languages=_words(table, "languages", _LANGUAGE, "ISO 639-1 codes, e.g. ['en', 'uk']"),
        keywords=_keywords(table.get("keywords")),
        max_events=_max_events(table.get("max_events")),
    )


def _every(value: object, kind: str) -> timedelta | None:
    if kind == "flash":
        if value is not None:
            raise _FieldError("every", "a flash route is sent by extract as events break; omit it")
        return None
    if value is None:
        raise _FieldError("every", "missing; how often it publishes, e.g. '4h' or '15m'")
    found = _EVERY.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise _FieldError("every", "must be a cadence in whole minutes, hours or days: '15m', '4h'")
    every = timedelta(minutes=int(found.group(1)) * _UNIT_MINUTES[found.group(2)])
    if not timedelta(minutes=1) <= every <= _LONGEST:
        raise _FieldError("every", "must be from 1m to 7d")
    if kind == "breaking" and every not in BREAKING_WINDOWS:
        raise _FieldError(
            "every",
            "a breaking route runs every 15m, 1h or 4h (the breaking windows extraction marks)",
        )
    return every


def _chat_id(value: object) -> str:
    # Telegram chat ids are integers (-100... for channels) or a public @name.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+|@[A-Za-z][A-Za-z0-9_]{3,31}", value.strip()):
        return value.strip()
    raise _FieldError("chat_id", "must be a chat id (-1001234567890) or a public @channelname")


def _title(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        raise _FieldError("title", "must be text of 1-100 characters")
    return value.strip()


def _importance(
    value: object, kind: str, every: timedelta | None, name: str, settings: Settings
) -> float:
    if value is None:
        if kind == "flash":
            return settings.flash_min_importance
        if kind == "breaking":
            return settings.breaking_min_importance_for(f"breaking_{BREAKING_WINDOWS[every]}")  # type: ignore[index]
        return settings.digest_min_importance
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise _FieldError("min_importance", "must be a number from 0 to 1")
    if math.isnan(value):
        raise _FieldError("min_importance", "must be a number from 0 to 1")
    return float(value)


def _max_events(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _FieldError("max_events", "must be a whole number of at least 1")
    return value


def _words(
    table: Mapping[str, Any], key: str, pattern: re.Pattern[str], what: str
) -> tuple[str, ...]:
    value = table.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        raise _FieldError(key, f"must be a non-empty list of {what}")
    for item in value:
        if not isinstance(item, str) or not pattern.fullmatch(item):
            shown = repr(item)[:40]
            raise _FieldError(key, f"{shown} is not one of {what}")
    return tuple(dict.fromkeys(value))


def _keywords(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(item, str) and item.strip() for item in value)
    ):
        raise _FieldError("keywords", "must be a non-empty list of words or phrases")
    return tuple(item.strip() for item in value)


def format_every(every: timedelta) -> str:
    """`4h`, `15m`, `1d`, `90m`: the shortest whole unit that states it."""
    minutes = int(every.total_seconds() // 60)
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    if every.total_seconds() % 60 == 0:
        return f"{minutes}m"
    return f"{every.total_seconds() / 3600:g}h"


def cron_schedule(route: Route) -> str:
    """The five cron fields that run a route at (or soon after) each window's end; a flash
    route's drain, every minute.

    Windows are aligned to multiples of their length since the epoch, so a route is run
    every gcd(length, 1 h) minutes below an hour, and every gcd(length, 24 h) hours above:
    a run that finds its window already published does nothing (the ledger).
    """
    if route.every is None:
        return "* * * * *"
    minutes = max(1, int(route.every.total_seconds() // 60))
    if minutes % 60:
        step = math.gcd(minutes, 60)
        return "* * * * *" if step == 1 else f"*/{step} * * * *"
    hours = math.gcd(minutes // 60, 24)
    if hours == 24:
        return f"{route.cron_minute} 0 * * *"
    if hours == 1:
        return f"{route.cron_minute} * * * *"
    return f"{route.cron_minute} */{hours} * * *"


def render_routes(routes: Routes, *, known_topics: Iterable[str]) -> str:
    """`civicquant routes`: where the routes come from, a table of them, and a warning line
    for each topic filter naming a topic extraction does not know (it would match nothing)."""
    from civicquant.textual import table

    source = (
        f"routes from {routes.source}"
        if routes.source is not None
        else "built-in routes (CIVICQUANT_ROUTES is not set)"
    )
    rows = [
        [
            route.name,
            route.kind,
            route.describe_every(),
            cron_schedule(route),
            route.chat_id or "- (TG_VIP_CHAT_ID unset)",
            route.title,
            route.filters(),
        ]
        for route in routes
    ]
    header = ["NAME", "KIND", "EVERY", "CRON", "CHAT", "TITLE", "FILTERS"]
    known = tuple(known_topics)
    warnings = [
        f"warning: route {name!r}: topic {topic!r} is not one extraction knows"
        f" ({', '.join(known)}): it matches nothing"
        for name, topic in routes.unknown_topics(known)
    ]
    return "\n".join([source, table(header, rows), *warnings])
