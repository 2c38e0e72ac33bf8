"""The `civicquant` command line: a thin shell over the library.

Each command parses its options, builds settings and the objects it needs, makes one
library call and prints. Heavy imports (telethon, telegram, LLM clients) happen inside the
commands that use them so that `--help` and `health` start fast under cron.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from civicquant import redaction
from civicquant.config import Settings, load_settings, retired_settings
from civicquant.errors import CivicquantError

if TYPE_CHECKING:
    from civicquant.extract.worker import WorkerOptions
    from civicquant.publish.digest import DigestResult
    from civicquant.publish.flash import FlashResult
    from civicquant.runtime.context import JobContext
    from civicquant.runtime.runner import Interrupted

app = typer.Typer(
    name="civicquant",
    help="Telegram news channels into a reliable event stream and a digest people trust.",
    no_args_is_help=True,
    # No traceback ever reaches a user (its frames' locals held DATABASE_URL): see main().
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
db_app = typer.Typer(
    help="The database: its schema, and the embedded server.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
monitoring_app = typer.Typer(
    help="The Grafana dashboard and Prometheus alert rules over health's metrics.",
    no_args_is_help=True,
)
app.add_typer(monitoring_app, name="monitoring")


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    prometheus = "prometheus"


class TableFormat(StrEnum):
    table = "table"
    json = "json"


class CompareFormat(StrEnum):
    text = "text"
    json = "json"


def _print_version(value: bool) -> None:
    if value:
        from civicquant import __version__

        typer.echo(f"civicquant {__version__}")
        raise typer.Exit


@app.callback()
def _global(
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file",
            help="Read settings from this file (same as CIVICQUANT_ENV_FILE).",
            envvar="CIVICQUANT_ENV_FILE",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print civicquant's version and exit.",
            is_eager=True,
            callback=_print_version,
        ),
    ] = False,
) -> None:
    """civicquant: read channels, extract events, publish digests; cron runs each command."""
    if env_file is not None:
        os.environ["CIVICQUANT_ENV_FILE"] = str(env_file)


def _settings(*, logging: bool = True) -> Settings:
    """Settings, with secrets registered for redaction and (for jobs) the log pipeline set up.

    Read-only commands (health, runs, cron, db status, compare) log nothing, so they skip
    the logging set-up and its imports: cron starts `health` every minute.
    """
    settings = load_settings()
    if logging:
        from civicquant import logs

        logs.configure_logging(
            fmt=settings.log_format, level=settings.log_level, secrets=settings.secret_values()
        )
        for name, why in retired_settings().items():
            logs.get_logger("civicquant").warning("setting_retired", setting=name, hint=why)
    else:
        redaction.set_secrets(settings.secret_values())
    return settings


# -- db -------------------------------------------------------------------------------


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply pending schema migrations, each once, in order.

    Safe to run from several processes at once.

    Example: civicquant db migrate
    """
    from civicquant import migrations
    from civicquant.db import open_database

    settings = _settings()
    with open_database(settings, application_name="civicquant migrate") as db:
        applied = migrations.migrate(db)
    if applied:
        for migration in applied:
            typer.echo(f"applied {migration.version}_{migration.name}")
    else:
        typer.echo("schema is current; nothing to apply")


@db_app.command("status")
def db_status() -> None:
    """Show applied and pending migrations.

    Example: civicquant db status
    """
    from civicquant import migrations
    from civicquant.db import open_database

    settings = _settings(logging=False)
    with open_database(settings, application_name="civicquant db status") as db:
        states = migrations.status(db)
        typer.echo(f"database: {db.where}")
    for state in states:
        when = f"applied {state.applied_at:%Y-%m-%d %H:%M:%S %Z}" if state.applied_at else "pending"
        changed = "  (file changed since it was applied)" if state.changed else ""
        typer.echo(f"{state.version}_{state.name:<30} {when}{changed}")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL of this CIVICQUANT_HOME (the next command starts it).

    Refuses when DATABASE_URL is set: it stops only the server civicquant started.

    Example: civicquant db stop
    """
    from civicquant.db import stop_embedded

    result = stop_embedded(_settings())
    if result.was_running:
        typer.echo(f"stopped the embedded PostgreSQL (data in {result.data_dir})")
    else:
        typer.echo(f"the embedded PostgreSQL is not running (data in {result.data_dir})")


# -- ingest ---------------------------------------------------------------------------

ChannelsOption = Annotated[
    str | None,
    typer.Option(
        "--channels",
        help="Channels instead of TG_SOURCE_CHANNELS: comma-separated or a JSON array of "
        "@name, t.me/name or numeric ids.",
    ),
]
PriorityOption = Annotated[
    str | None,
    typer.Option(
        "--priority",
        help="Queue priority of the jobs: live, backfill, reparse or 0-100 (higher first).",
    ),
]


def _priority(text: str | None) -> int | None:
    """--priority as a number (None: the command's default)."""
    if text is None:
        return None
    from civicquant.queue import parse_priority

    return parse_priority(text)


def _channel_specs(settings: Settings, channels: str | None) -> list[Any]:
    """The channels a command works on: --channels, else TG_SOURCE_CHANNELS.

    A channel named by --channels must be one civicquant knows (in TG_SOURCE_CHANNELS, or
    stored): a typo is refused before any job runs, instead of reading (or filtering by)
    whatever channel the misspelt name happens to be.
    """
    from civicquant.ingest.channels import parse_channel_specs

    configured = parse_channel_specs(settings.tg_source_channels, default_weight=1.0)
    if channels is None:
        # TG_SOURCE_CHANNELS is the operator's list: a channel without a weight weighs 1.
        return configured
    # A channel named on the command line without a weight keeps its stored one.
    specs = parse_channel_specs(channels)
    listed = {spec.key() for spec in configured}
    _refuse_unknown_channels(settings, [spec for spec in specs if spec.key() not in listed])
    return specs


def _refuse_unknown_channels(settings: Settings, specs: list[Any]) -> None:
    from civicquant.db import open_database
    from civicquant.errors import UsageError
    from civicquant.ingest.rawlog import RawLog

    if not specs:
        return
    with open_database(settings, application_name="civicquant channels") as db:
        unknown = RawLog(db, pipeline_version=settings.extraction_pipeline_version).unknown_specs(
            specs
        )
    if unknown:
        names = ", ".join(str(spec) for spec in unknown)
        raise UsageError(
            f"--channels: {names} is not a channel civicquant knows (not in TG_SOURCE_CHANNELS, "
            "never stored); check the spelling, or add it to TG_SOURCE_CHANNELS to read it"
        )


@app.command()
def listen(
    duration: Annotated[
        str, typer.Option("--duration", help="Stop after this long (55m, 1h, 30s).")
    ] = "55m",
    channels: ChannelsOption = None,
) -> None:
    """Catch channels up from their high-water marks, then stream new, edited and deleted posts.

    Holds the `listen` lease: a second copy exits at once as skipped. Stops after
    --duration or on SIGTERM, finishing the write in hand.

    Example: civicquant listen --duration 55m
    """
    from civicquant import wiring
    from civicquant.ingest import live
    from civicquant.timeparse import parse_duration

    settings = _settings()
    specs = _channel_specs(settings, channels)
    options = live.ListenOptions(
        duration_seconds=parse_duration(duration, "--duration"),
        catchup_chunk_hours=settings.catchup_chunk_hours,
        recheck_hours=settings.recheck_hours,
    )
    outcome = wiring.run_job(
        settings,
        "listen",
        lambda ctx: live.listen_job(ctx, specs, options, wiring.telegram_reader),
        lease="listen",
        cooperative=True,
    )
    _print_counts("listen", outcome.counts)


@app.command()
def backfill(
    since: Annotated[
        str | None, typer.Option("--since", help="Window start, ISO 8601 with offset (inclusive).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Window end, ISO 8601 with offset (exclusive).")
    ] = None,
    channels: ChannelsOption = None,
    max_messages: Annotated[
        int | None, typer.Option("--max-messages", min=1, help="Stop after this many posts.")
    ] = None,
    force_enqueue: Annotated[
        bool, typer.Option("--force-enqueue", help="Re-enqueue posts already stored too.")
    ] = False,
    from_export: Annotated[
        Path | None,
        typer.Option("--from-export", help="Import a Telegram Desktop export (result.json)."),
    ] = None,
    gaps: Annotated[
        bool, typer.Option("--gaps", help="Fetch the ids missing inside each channel's range.")
    ] = False,
    timezone: Annotated[
        str | None,
        typer.Option(
            "--timezone",
            help="With --from-export: the exporting machine's IANA zone, for an export"
            " without date_unixtime (before 2021).",
        ),
    ] = None,
    chat: Annotated[
        str | None,
        typer.Option(
            "--chat",
            help="With --from-export: the chat (name or id) to import from a whole-account export.",
        ),
    ] = None,
    priority: PriorityOption = None,
) -> None:
    """Read history into the raw log: a time window, an export file, or the gaps.

    Example: civicquant backfill --since 2026-11-20T00:00:00Z --until 2026-11-21T00:00:00Z
    """
    from civicquant import wiring
    from civicquant.errors import UsageError
    from civicquant.ingest import export_import, history
    from civicquant.runtime.runner import Interrupted
    from civicquant.telegram import sessions
    from civicquant.timeparse import parse_window, parse_zone

    modes = [
        name
        for name, on in (("--since", since), ("--from-export", from_export), ("--gaps", gaps))
        if on
    ]
    if len(modes) != 1:
        raise UsageError("backfill needs exactly one of --since, --from-export or --gaps")
    for option, given in (("--timezone", timezone), ("--chat", chat)):
        if given is not None and from_export is None:
            raise UsageError(f"{option} goes with --from-export only")
    zone = parse_zone(timezone, "--timezone") if timezone is not None else None
    level = _priority(priority)
    # Every option is checked before the run is recorded: a mistake on the command line
    # is refused with one line (exit 2), never a failed run nor an ops-chat alert.
    span = parse_window(since, until) if since is not None else None
    settings = _settings()
    reader = wiring.telegram_reader
    try:
        if from_export is not None:
            username = _export_username(settings, channels)
            export = export_import.open_export(from_export, timezone=zone, chat=chat)
            with _TerminalProgress(f"import {from_export.name}", settings) as progress:
                outcome = wiring.run_job(
                    settings,
                    "backfill",
                    lambda ctx: export_import.export_job(
                        ctx,
                        export,
                        username=username,
                        max_posts=max_messages,
                        progress=progress.report,
                        priority=level,
                    ),
                    cooperative=True,
                    interruptible=True,
                )
        elif span is None:
            specs = _channel_specs(settings, channels) if channels else []
            outcome = wiring.run_job(
                settings,
                "backfill",
                lambda ctx: history.gaps_job(ctx, specs, reader, level),
                lease=sessions.backfill_lease(settings),
                cooperative=True,
                interruptible=True,
            )
        else:
            window, specs = span, _channel_specs(settings, channels)
            with _TerminalProgress("backfill", settings) as progress:
                outcome = wiring.run_job(
                    settings,
                    "backfill",
                    lambda ctx: history.backfill_job(
                        ctx,
                        specs,
                        window,
                        reader,
                        max_messages=max_messages,
                        force_enqueue=force_enqueue,
                        progress=progress.report,
                        priority=level,
                    ),
                    lease=sessions.backfill_lease(settings),
                    cooperative=True,
                    interruptible=True,
                )
    except Interrupted as stopped:
        _print_interrupted("backfill", stopped)
    _print_counts("backfill", outcome.counts)


@app.command()
def enqueue(
    since: Annotated[str | None, typer.Option("--since", help="Posts from (inclusive).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Posts before (exclusive).")] = None,
    channels: ChannelsOption = None,
    max_messages: Annotated[
        int | None, typer.Option("--max-messages", min=1, help="At most this many posts.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Reset existing jobs for the version to pending.")
    ] = False,
    pipeline_version: Annotated[
        str | None,
        typer.Option("--pipeline-version", help="Default: EXTRACTION_PIPELINE_VERSION."),
    ] = None,
    priority: PriorityOption = None,
) -> None:
    """Enqueue extraction from the raw log without reading Telegram (reparse, by default at
    the lowest priority: new posts are extracted first).

    Example: civicquant enqueue --since 2026-11-01T00:00:00Z --pipeline-version v2
    """
    from civicquant import wiring
    from civicquant.ingest.reparse import EnqueueOptions, enqueue_job
    from civicquant.queue import PRIORITIES
    from civicquant.timeparse import parse_window

    level = _priority(priority)
    settings = _settings()
    options = EnqueueOptions(
        pipeline_version=settings.pipeline_version(pipeline_version),
        span=parse_window(since, until),
        channels=_channel_specs(settings, channels) if channels else None,
        limit=max_messages,
        force=force,
        priority=PRIORITIES["reparse"] if level is None else level,
    )
    outcome = wiring.run_job(settings, "enqueue", lambda ctx: enqueue_job(ctx, options))
    _print_counts("enqueue", outcome.counts)


@app.command()
def extract(
    oneshot: Annotated[
        bool, typer.Option("--oneshot", help="Exit when the queue is empty.")
    ] = False,
    max_jobs: Annotated[
        int | None, typer.Option("--max-jobs", min=1, help="Stop after this many jobs.")
    ] = None,
    max_runtime: Annotated[
        str | None,
        typer.Option("--max-runtime", help="Stop claiming after this long (55s, 10m)."),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency", min=1, help="Provider calls in flight (LLM_MAX_CONCURRENCY)."
        ),
    ] = None,
    pipeline_version: Annotated[
        str | None,
        typer.Option("--pipeline-version", help="Default: EXTRACTION_PIPELINE_VERSION."),
    ] = None,
    no_side_effects: Annotated[
        bool,
        typer.Option(
            "--no-side-effects",
            help="Publish nothing and queue no flash alerts (safe reparse runs).",
        ),
    ] = False,
) -> None:
    """Turn queued raw posts into extractions and events; many workers may run at once.

    Without --oneshot it keeps claiming until --max-runtime passes, waiting on
    LISTEN/NOTIFY while the queue is empty.

    Example: civicquant extract --max-runtime 55s
    """
    from civicquant import wiring
    from civicquant.extract.worker import WorkerOptions, extract_job
    from civicquant.timeparse import parse_duration

    settings = _settings()
    wiring.require_provider(settings)
    options = WorkerOptions(
        pipeline_version=settings.pipeline_version(pipeline_version),
        oneshot=oneshot,
        max_jobs=max_jobs,
        max_runtime_seconds=parse_duration(max_runtime, "--max-runtime") if max_runtime else None,
        concurrency=concurrency or settings.llm_max_concurrency,
        lease_seconds=settings.extract_lease_seconds,
        max_attempts=settings.extract_max_attempts,
        side_effects=not no_side_effects,
    )

    progress = _TerminalProgress("extract", settings, unit="jobs", wanted=oneshot)

    def body(ctx: JobContext) -> None:
        if progress.drawing:
            progress.follow(lambda: _extract_progress(ctx), _extract_backlog(ctx, options))
        extract_job(
            ctx,
            options,
            make_provider=lambda: wiring.make_provider(
                settings, max_connections=options.concurrency
            ),
            make_after_commit=lambda: wiring.flash_alerts(ctx),
        )

    with progress:
        outcome = wiring.run_job(settings, "extract", body, cooperative=True)
    _print_counts("extract", outcome.counts)


def _extract_progress(ctx: JobContext) -> tuple[int, str]:
    """Jobs an extract run has finished so far, and how many of them failed."""
    failed = ctx.counts["failed"] + ctx.counts["dead"]
    return ctx.counts["ok"] + failed, f"{failed} failed" if failed else ""


def _extract_backlog(ctx: JobContext, options: WorkerOptions) -> int:
    """The jobs a oneshot run has before it (pending now, up to --max-jobs): the bar's end."""
    from civicquant import queue

    pending = queue.counts(ctx.db).get(options.pipeline_version, {}).get("pending", 0)
    return pending if options.max_jobs is None else min(pending, options.max_jobs)


@app.command()
def compare(
    a: Annotated[str, typer.Argument(help="A pipeline version (the reference).")],
    b: Annotated[str, typer.Argument(help="The pipeline version compared with A.")],
    since: Annotated[str | None, typer.Option("--since", help="Posts from (inclusive).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Posts before (exclusive).")] = None,
    channels: Annotated[
        str | None,
        typer.Option(
            "--channels",
            help="Only these channels (default: all): comma-separated or a JSON array of "
            "@name, t.me/name or numeric ids.",
        ),
    ] = None,
    output_format: Annotated[
        CompareFormat, typer.Option("--format", help="text or json.")
    ] = CompareFormat.text,
) -> None:
    """Compare two pipeline versions on the same posts: agreement, topics, worst posts, cost.

    Read-only: takes no lease and records no job run.

    Example: civicquant compare v1 v2 --since 2026-11-01T00:00:00Z --format json
    """
    from civicquant.db import open_database
    from civicquant.extract import compare as comparison
    from civicquant.ingest.rawlog import RawLog
    from civicquant.timeparse import parse_window

    settings = _settings(logging=False)
    span = parse_window(since, until)
    specs = _channel_specs(settings, channels) if channels else None
    with open_database(settings, application_name="civicquant compare") as db:
        channel_ids = (
            None if specs is None else RawLog(db, pipeline_version=b).stored_channel_ids(specs)
        )
        report = comparison.compare(
            db, a, b, since=span.since, until=span.until, channel_ids=channel_ids
        )
    render = (
        comparison.render_json if output_format is CompareFormat.json else comparison.render_text
    )
    typer.echo(render(report), nl=False)


@app.command()
def digest(
    queue: Annotated[
        str,
        typer.Option(
            "--queue", help="The route to publish (`civicquant routes` lists them).", metavar="NAME"
        ),
    ] = "vip",
    hours: Annotated[
        float | None,
        typer.Option(
            "--hours", min=0.25, max=24, help="Window length (default: the route's every)."
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="Publish the window containing this ISO instant (a re-run)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the messages; send and record nothing.")
    ] = False,
    chat: Annotated[
        str | None, typer.Option("--chat", help="Chat id instead of the route's chat_id.")
    ] = None,
    pipeline_version: Annotated[
        str | None,
        typer.Option("--pipeline-version", help="Default: EXTRACTION_PIPELINE_VERSION."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Resend a window (or, with --event, a flash alert) whose last send was cut "
            "off by a crash or lost its answer.",
        ),
    ] = False,
    event: Annotated[
        int | None,
        typer.Option(
            "--event", min=1, help="A flash route: only this event's alert (health names it)."
        ),
    ] = None,
) -> None:
    """Publish a route's events first seen in the last completed window, grouped by topic, once;
    for a flash route, send the alerts waiting in the flash outbox, each once.

    Windows are aligned to the route's cadence (4 h: 00:00, 04:00, ... UTC): a late,
    repeated or retried run publishes each window exactly once, per route.

    Example: civicquant digest --queue vip --dry-run --at 2026-11-20T10:00:00Z
    """
    from civicquant import wiring
    from civicquant.errors import UsageError
    from civicquant.publish.digest import DigestOptions, digest_job
    from civicquant.publish.routes import load_routes
    from civicquant.timeparse import parse_instant

    settings = _settings()
    # A bad routes file or route name is one line before any run is recorded.
    route = load_routes(settings).named(queue)
    if route.kind == "flash":
        # --hours, --at and --pipeline-version pick a digest's window: a flash route has none.
        windowed = {"--hours": hours, "--at": at, "--pipeline-version": pipeline_version}
        for name, value in windowed.items():
            if value is not None:
                raise UsageError(
                    f"{name} takes a digest or breaking route; {queue!r} is a flash route"
                )
        _drain_flash(
            settings, route.job, queue, chat=chat, dry_run=dry_run, force=force, event=event
        )
        return
    if event is not None:
        raise UsageError(f"--event takes a flash route; {queue!r} is a {route.kind} route")
    options = DigestOptions(
        queue=queue,
        hours=hours,
        at=parse_instant(at, "--at") if at else None,
        dry_run=dry_run,
        chat_id=chat,
        pipeline_version=pipeline_version,
        force=force,
    )
    job = f"digest:{queue}"

    def body(ctx: JobContext) -> DigestResult:
        return digest_job(ctx, options, wiring.make_publisher)

    _run_route(settings, job, body, dry_run=dry_run)


def _drain_flash(
    settings: Settings,
    job: str,
    queue: str,
    *,
    chat: str | None,
    dry_run: bool,
    force: bool,
    event: int | None,
) -> None:
    """`digest --queue FLASH_ROUTE`: drain the route's flash outbox under its lease."""
    from civicquant import wiring
    from civicquant.publish.flash import FlashOptions, flash_drain_job

    options = FlashOptions(queue=queue, chat_id=chat, dry_run=dry_run, force=force, event_id=event)

    def body(ctx: JobContext) -> FlashResult:
        return flash_drain_job(ctx, options, wiring.make_publisher)

    _run_route(settings, job, body, dry_run=dry_run)


def _run_route(
    settings: Settings,
    job: str,
    body: Callable[[JobContext], DigestResult | FlashResult],
    *,
    dry_run: bool,
) -> None:
    """Run a route's job under its lease and print what it did; a preview takes no lease
    and is recorded under its own name (`JOB:dry-run`), so health is not fooled."""
    from civicquant import wiring

    if dry_run:
        _print_message(wiring.run_job(settings, f"{job}:dry-run", body).value)
        return
    outcome = wiring.run_job(settings, job, body, lease=job)
    _print_message(outcome.value)
    _print_counts("digest", outcome.counts)


@app.command("routes")
def show_routes() -> None:
    """Print the effective routes: CIVICQUANT_ROUTES's, else the built-in ones.

    Example: civicquant routes
    """
    from civicquant.extraction import TOPICS
    from civicquant.publish import routes

    settings = _settings(logging=False)
    effective = routes.load_routes(settings)
    typer.echo(routes.render_routes(effective, known_topics=TOPICS))


@app.command()
def prune(
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            help="Prune rows older than this (45d, 12h) in the tables pruned (default: "
            "PRUNE_JOB_RUNS_DAYS, PRUNE_EXTRACTION_JOBS_DAYS, PRUNE_PUBLISHED_POSTS_DAYS).",
        ),
    ] = None,
    tables: Annotated[
        str | None,
        typer.Option(
            "--tables",
            help="Comma-separated: job_runs, extraction_jobs, published_posts, raw_messages "
            "(default: the first three; the raw log only when named).",
        ),
    ] = None,
    archive_dir: Annotated[
        Path | None,
        typer.Option(
            "--archive-dir",
            help="First archive the rows here: TABLE/DAY.jsonl.gz and manifest.json.",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print what would be archived and deleted; change nothing."),
    ] = False,
    restore: Annotated[
        Path | None,
        typer.Option("--restore", help="Load this archive file back (present rows are skipped)."),
    ] = None,
) -> None:
    """Archive and delete old job runs, retired extraction jobs and sent publications.

    The raw log is kept unless --tables names raw_messages. With --archive-dir a row is
    deleted only after its day file is written, fsynced and read back against manifest.json.

    Example: civicquant prune --older-than 45d --archive-dir /var/backups/civicquant --dry-run
    """
    from civicquant import wiring
    from civicquant.errors import UsageError
    from civicquant.ops import archive, retention

    settings = _settings()
    if restore is not None:
        if tables or older_than or archive_dir or dry_run:
            raise UsageError("--restore takes no other prune option")
        archive.restorable(restore)  # a wrong path is refused before any run is recorded
        archive_file = restore
        restored = wiring.run_job(
            settings,
            "prune:restore",
            lambda ctx: archive.restore_job(ctx, archive_file),
            lease="prune",
        )
        if restored.value is None:
            _print_counts("prune", restored.counts)
        else:
            typer.echo(archive.render_restore(restored.value), nl=False)
        return
    options = retention.build_options(
        tables=tables,
        older_than=older_than,
        default_days=retention.default_days(settings),
        archive_dir=archive_dir,
        dry_run=dry_run,
    )
    if dry_run:
        # A preview: no lease, and recorded under its own name so health is not fooled.
        preview = wiring.run_job(
            settings, "prune:dry-run", lambda ctx: retention.prune_job(ctx, options)
        )
        assert preview.value is not None  # a dry run takes no lease, so it is never skipped
        typer.echo(retention.render(preview.value), nl=False)
        return
    outcome = wiring.run_job(
        settings, "prune", lambda ctx: retention.prune_job(ctx, options), lease="prune"
    )
    _print_counts("prune", outcome.counts)


@app.command()
def login(
    save_to: Annotated[
        Path | None,
        typer.Option("--save-to", help="Write a session file (mode 0600) instead of printing."),
    ] = None,
) -> None:
    """Log in to Telegram interactively and print a TG_SESSION_STRING (or save a session file).

    The one interactive command: it asks for the phone number, the code and the 2FA password.

    Example: civicquant login --save-to ~/.local/share/civicquant/civicquant.session
    """
    import asyncio

    from civicquant.telegram import sessions

    settings = _settings()
    session = asyncio.run(sessions.login(settings, save_to=save_to))
    if session is None:
        typer.echo(f"session saved to {save_to}; set TG_SESSION={save_to}")
    else:
        typer.echo("TG_SESSION_STRING (a secret: store it like a password):", err=True)
        typer.echo(session)


def _export_username(settings: Settings, channels: str | None) -> str | None:
    """With --from-export, --channels may name the channel's public @name (exports omit it)."""
    from civicquant.errors import UsageError
    from civicquant.ingest.channels import parse_channel_specs

    if channels is None:
        return None
    specs = parse_channel_specs(channels)  # names the export's channel: it may be new
    if len(specs) != 1 or specs[0].username is None:
        raise UsageError("with --from-export, --channels takes one @name: the export's channel")
    return str(specs[0].username)


def _print_message(result: DigestResult | FlashResult | None) -> None:
    """A digest's preview or its "nothing to post" line, when it has one."""
    message = result.message() if result is not None else None
    if message is not None:
        typer.echo(message)


class _TerminalProgress:
    """A progress bar on stderr while a terminal watches (rich); nothing under cron.

    Drawn only when stderr is a terminal and the log is not JSON (LOG_FORMAT=json is for
    machines reading it). rich is imported here, when a bar is drawn: never on the start-up
    path of `health` and the jobs cron starts.
    """

    def __init__(
        self, what: str, settings: Settings, *, unit: str = "posts", wanted: bool = True
    ) -> None:
        self.what = what
        self.unit = unit
        self.drawing = wanted and sys.stderr.isatty() and settings.log_format != "json"
        # Told (posts so far, channel) by ingest; None keeps its progress in the log.
        self.report = self._draw if self.drawing else None
        self._bar: Any = None
        self._task: Any = None
        self._total: int | None = None  # the bar's end, when known (extract's backlog)
        self._closed = threading.Event()
        self._follower: threading.Thread | None = None

    def __enter__(self) -> _TerminalProgress:
        if self.drawing:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bar = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[done]}"),
                TextColumn("{task.fields[detail]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )
            self._task = self._bar.add_task(self.what, total=None, done="", detail="")
            self._bar.start()
        return self

    def _draw(self, done: int, detail: str) -> None:
        if self._bar is None:
            return
        # More done than the backlog counted at the start (work enqueued since): the end moves.
        total = None if self._total is None else max(self._total, done)
        shown = f"{done}/{total} {self.unit}" if total is not None else f"{done} {self.unit}"
        self._bar.update(self._task, completed=done, total=total, done=shown, detail=detail)

    def follow(self, poll: Callable[[], tuple[int, str]], total: int | None) -> None:
        """Redraw from `poll` (done so far, a detail) a few times a second until closed."""
        if self._bar is None:
            return
        self._total = total
        self._draw(*poll())

        def redraw() -> None:
            while not self._closed.wait(0.2):
                self._draw(*poll())
            self._draw(*poll())

        self._follower = threading.Thread(target=redraw, name="civicquant-progress", daemon=True)
        self._follower.start()

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        self._closed.set()
        if self._follower is not None:
            self._follower.join()
        if self._bar is None:
            return
        if exc_type is None:  # done: the bar drawn full, not left pulsing
            task = self._bar.tasks[0]
            self._bar.update(self._task, total=max(task.completed, 1), completed=task.completed)
        self._bar.stop()


def _print_interrupted(job: str, stopped: Interrupted) -> NoReturn:
    """One line on how far an interrupted run got; exit 130 (SIGINT) or 143 (SIGTERM)."""
    counts = stopped.counts
    stored = sum(int(counts.get(key) or 0) for key in ("inserted", "unchanged", "revised"))
    where = ""
    if counts.get("last_message_id") is not None:
        where = f", up to message {counts['last_message_id']}"
        channel = str(counts.get("channel") or "")
        if channel:
            where += f" of {channel if channel.startswith('@') else 'channel ' + channel}"
    shown = ", ".join(
        f"{key}={value}"
        for key, value in counts.items()
        if value not in (0, None) and key not in ("channel", "last_message_id")
    )
    typer.echo(
        f"{job}: interrupted by {stopped.signal_name} after {stored} posts stored{where}"
        f" ({shown or 'nothing done'}); what was stored is kept: run it again for the rest",
        err=True,
    )
    raise typer.Exit(stopped.exit_code)


def _print_counts(job: str, counts: dict[str, Any]) -> None:
    if counts.get("skipped"):
        reason = counts.get("skip_reason") or f"lease held by {counts.get('lease_held_by')}"
        typer.echo(f"{job}: skipped, {reason}")
        return
    shown = ", ".join(f"{key}={value}" for key, value in counts.items() if value not in (0, None))
    typer.echo(f"{job}: {shown or 'nothing to do'}")


# -- monitoring -----------------------------------------------------------------------


@app.command()
def health(
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="text, json or prometheus.")
    ] = OutputFormat.text,
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Write to this file atomically instead of stdout."),
    ] = None,
) -> None:
    """Report whether every job is fresh; exit 0 ok, 1 stale, 2 down or no database.

    Example: civicquant health --format prometheus --output /var/lib/node_exporter/civicquant.prom
    """
    from civicquant.ops import health as health_report
    from civicquant.ops import health_render

    settings = _settings(logging=False)
    report = health_report.check(settings)
    render = {
        OutputFormat.text: health_render.render_text,
        OutputFormat.json: health_render.render_json,
        OutputFormat.prometheus: health_render.render_prometheus,
    }[output_format]
    text = render(report)
    if output is not None:
        health_render.write_atomic(output, text)
    else:
        typer.echo(text, nl=False)
    raise typer.Exit(report.exit_code)


@monitoring_app.command("dashboard")
def monitoring_dashboard() -> None:
    """Print the Grafana dashboard (JSON) over the metrics `health --format prometheus` writes.

    Example: civicquant monitoring dashboard > /var/lib/grafana/dashboards/civicquant.json
    """
    from civicquant.ops import monitoring

    typer.echo(monitoring.dashboard(), nl=False)


@monitoring_app.command("rules")
def monitoring_rules() -> None:
    """Print the Prometheus alerting rules (YAML) over the metrics health writes.

    Example: civicquant monitoring rules > /etc/prometheus/rules/civicquant.yml
    """
    from civicquant.ops import monitoring

    typer.echo(monitoring.alert_rules(), nl=False)


def _monitored_job(settings: Settings, job: str) -> str:
    """`job` if `health` monitors it (a route's is `digest:NAME`); UsageError otherwise."""
    from civicquant.errors import UsageError
    from civicquant.publish import routes

    known = settings.job_intervals(routes.load_routes(settings).job_intervals())
    if job not in known:
        raise UsageError(f"no job named {job!r} (jobs health monitors: {', '.join(sorted(known))})")
    return job


@app.command()
def pause(
    job: Annotated[str, typer.Argument(help="A job as health names it: extract, digest:vip, ...")],
    until: Annotated[
        str | None, typer.Option("--until", help="Paused until then (ISO 8601 with offset).")
    ] = None,
    for_: Annotated[
        str | None, typer.Option("--for", help="Paused for this long (2h, 30m, 1d).")
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why, for health.")] = None,
) -> None:
    """Pause a job's cron runs: they exit 0 at once as `paused` until `resume` (or --until).

    Example: civicquant pause digest:vip --for 2h --reason "chat migration"
    """
    from datetime import UTC, datetime, timedelta

    from civicquant.db import open_database
    from civicquant.errors import UsageError
    from civicquant.runtime import pauses
    from civicquant.timeparse import parse_duration, parse_instant

    if until is not None and for_ is not None:
        raise UsageError("pause takes --until or --for, not both")
    end = None
    if until is not None:
        end = parse_instant(until, "--until")
    elif for_ is not None:
        end = datetime.now(UTC) + timedelta(seconds=parse_duration(for_, "--for"))
    if end is not None and end <= datetime.now(UTC):
        raise UsageError(f"--until {end:%Y-%m-%d %H:%M} UTC has already passed")
    settings = _settings(logging=False)
    name = _monitored_job(settings, job)
    with open_database(settings, application_name="civicquant pause") as db:
        paused = pauses.pause(db, name, until=end, reason=reason)
    typer.echo(f"{name}: {paused.describe()}")


@app.command()
def resume(
    job: Annotated[str, typer.Argument(help="A paused job, as health names it.")],
) -> None:
    """Lift a job's pause: its next cron run works again.

    Example: civicquant resume digest:vip
    """
    from civicquant.db import open_database
    from civicquant.runtime import pauses

    settings = _settings(logging=False)
    name = _monitored_job(settings, job)
    with open_database(settings, application_name="civicquant resume") as db:
        lifted = pauses.resume(db, name)
    if lifted is None or not lifted.active:
        typer.echo(f"{name}: was not paused")
        return
    typer.echo(f"{name}: resumed (it was {lifted.describe()})")


@app.command()
def runs(
    job: Annotated[str | None, typer.Option("--job", help="Only this job.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many runs.")] = 20,
    output_format: Annotated[TableFormat, typer.Option("--format")] = TableFormat.table,
) -> None:
    """List recent job runs, newest first.

    Example: civicquant runs --job extract --limit 5
    """
    from civicquant.db import open_database
    from civicquant.runtime import runs as job_runs

    settings = _settings(logging=False)
    with open_database(settings, application_name="civicquant runs") as db:
        rows = job_runs.recent(db, job, limit)
    if output_format is TableFormat.json:
        typer.echo(json.dumps(rows, default=_json_value, indent=2))
        return
    typer.echo(job_runs.render_table(rows))


def _json_value(value: object) -> object:
    """JSON for what psycopg returns: times in ISO 8601 (`2026-12-02T04:29:49+00:00`)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


@app.command()
def cron(
    log_dir: Annotated[
        Path | None, typer.Option("--log-dir", help="Where jobs append their logs.")
    ] = None,
    textfile: Annotated[
        Path | None,
        typer.Option("--textfile", help="Where health writes its Prometheus textfile."),
    ] = None,
) -> None:
    """Print the crontab for this installation, ready for `crontab -`.

    Example: civicquant --env-file /etc/civicquant.env cron | crontab -
    """
    from civicquant.ops import crontab

    settings = _settings(logging=False)
    typer.echo(crontab.for_installation(settings, log_dir=log_dir, textfile=textfile), nl=False)


def examples() -> list[tuple[str, str]]:
    """(command, example) for every command, from the `Example:` line of its docstring."""
    found = []
    groups = [("", app)] + [(g.name or "", g.typer_instance) for g in app.registered_groups]
    for prefix, group in groups:
        if group is None:
            continue
        for command in group.registered_commands:
            if command.callback is None:
                continue
            name = " ".join(filter(None, [prefix, command.name or command.callback.__name__]))
            doc = command.callback.__doc__ or ""
            example = next(
                (
                    line.split("Example:", 1)[1].strip()
                    for line in doc.splitlines()
                    if "Example:" in line
                ),
                "",
            )
            found.append((name.replace("_", "-"), example))
    return found


# "\b" keeps click from re-wrapping the example lines.
app.info.epilog = "Examples:\n\n\b\n" + "\n".join(f"  {example}" for _, example in examples())


def main() -> None:
    """Entry point: run the app; every error becomes one line and an exit status.

    civicquant's own errors carry their status. Anything else (a bug, or an OS error no
    command expected) names the command and what failed, exits 1 (2 for `health`, whose
    contract is 0/1/2), and leaves its traceback, without locals, at debug level in the log.
    """
    from typer.exceptions import TyperException

    try:
        status = app(standalone_mode=False)
    except TyperException as exc:  # click's own: a command-line mistake, never a job run
        message = exc.format_message()
        context = getattr(exc, "ctx", None)
        if message.startswith("Usage:"):
            # A bare `civicquant` or `civicquant db`: the help is the answer.
            typer.echo(message, err=True)
        else:
            where = f"{context.command_path} -h" if context is not None else "civicquant -h"
            typer.echo(f"civicquant: error: {message.rstrip('.')} (see {where})", err=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("civicquant: interrupted", err=True)
        sys.exit(130)
    except CivicquantError as exc:
        typer.echo(f"civicquant: error: {redaction.redact(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("civicquant: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        command = _command_name(sys.argv[1:])
        _log_unexpected(exc)
        typer.echo(
            f"civicquant: error: {command or 'civicquant'} failed: {_what_failed(exc)}", err=True
        )
        sys.exit(2 if command == "health" else 1)
    if isinstance(status, int) and status:
        sys.exit(status)  # a command's own typer.Exit(code)


def _command_name(args: list[str]) -> str | None:
    """The subcommand named in `args` (after any --env-file), for the error line."""
    words = iter(args)
    for word in words:
        if word == "--env-file":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def _what_failed(exc: Exception) -> str:
    """One redacted line: an OS error's reason and file, else the exception's first line."""
    if isinstance(exc, OSError) and exc.strerror:
        files = [str(name) for name in (exc.filename, exc.filename2) if name is not None]
        text = f"{exc.strerror}: {' -> '.join(files)}" if files else exc.strerror
    else:
        first_line = (str(exc).strip().splitlines() or [""])[0]
        text = f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__
    return redaction.redact(text)


def _log_unexpected(exc: Exception) -> None:
    """The traceback at debug level, through the redacting pipeline; never to stdout.

    A read-only command has no pipeline set up (structlog's default would print a rich
    traceback with every frame's locals to stdout): one is set up from the settings first,
    and if even they cannot be read, nothing is logged.
    """
    import structlog

    from civicquant import logs

    if not structlog.is_configured():
        try:
            settings = load_settings()
            logs.configure_logging(
                fmt=settings.log_format, level=settings.log_level, secrets=settings.secret_values()
            )
        except Exception:  # already failing: the one line is what matters
            return
    logs.get_logger("civicquant").debug(
        "unexpected_error", error_type=type(exc).__name__, exc_info=exc
    )
