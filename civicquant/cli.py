"""The `civicquant` command line: a thin shell over the library.

Each command parses its options, builds settings and the objects it needs, makes one
library call and prints. Heavy imports (telethon, telegram, LLM clients) happen inside the
commands that use them so that `--help` and `health` start fast under cron.
"""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from civicquant import logs
from civicquant.config import Settings, load_settings
from civicquant.errors import CivicquantError

app = typer.Typer(
    name="civicquant",
    help="Telegram news channels into a reliable event stream and a digest people trust.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


class OutputFormat(str, Enum):
    text = "text"
    json = "json"
    prometheus = "prometheus"


class TableFormat(str, Enum):
    table = "table"
    json = "json"


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
) -> None:
    """civicquant: read channels, extract events, publish digests; cron runs each command."""
    if env_file is not None:
        os.environ["CIVICQUANT_ENV_FILE"] = str(env_file)


def _settings() -> Settings:
    settings = load_settings()
    logs.configure_logging(
        fmt=settings.log_format, level=settings.log_level, secrets=settings.secret_values()
    )
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

    settings = _settings()
    with open_database(settings, application_name="civicquant db status") as db:
        states = migrations.status(db)
        typer.echo(f"database: {db.where}")
    for state in states:
        when = f"applied {state.applied_at:%Y-%m-%d %H:%M:%S %Z}" if state.applied_at else "pending"
        changed = "  (file changed since it was applied)" if state.changed else ""
        typer.echo(f"{state.version}_{state.name:<30} {when}{changed}")


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
    from civicquant import health as health_report

    settings = _settings()
    report = health_report.check(settings)
    render = {
        OutputFormat.text: health_report.render_text,
        OutputFormat.json: health_report.render_json,
        OutputFormat.prometheus: health_report.render_prometheus,
    }[output_format]
    text = render(report)
    if output is not None:
        health_report.write_atomic(output, text)
    else:
        typer.echo(text, nl=False)
    raise typer.Exit(report.exit_code)


@app.command()
def runs(
    job: Annotated[str | None, typer.Option("--job", help="Only this job.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many runs.")] = 20,
    output_format: Annotated[TableFormat, typer.Option("--format")] = TableFormat.table,
) -> None:
    """List recent job runs, newest first.

    Example: civicquant runs --job extract --limit 5
    """
    from civicquant import runs as job_runs
    from civicquant.db import open_database

    settings = _settings()
    with open_database(settings, application_name="civicquant runs") as db:
        rows = job_runs.recent(db, job, limit)
    if output_format is TableFormat.json:
        typer.echo(json.dumps(rows, default=str, indent=2))
        return
    typer.echo(_table(rows))


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
    from civicquant import crontab

    settings = _settings()
    env_file = Path(os.environ.get("CIVICQUANT_ENV_FILE") or ".env")
    logs_at = log_dir or settings.home / "logs"
    logs_at.expanduser().mkdir(parents=True, exist_ok=True)
    typer.echo(
        crontab.render(
            env_file=env_file,
            log_dir=logs_at,
            textfile=textfile or settings.home / "civicquant.prom",
        ),
        nl=False,
    )


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no job runs yet"
    header = ("STARTED", "JOB", "STATUS", "SECONDS", "HOST", "PID", "COUNTS / ERROR")
    lines = [header]
    for row in rows:
        seconds = (
            f"{(row['finished_at'] - row['started_at']).total_seconds():.1f}"
            if row["finished_at"]
            else "-"
        )
        detail = row["error"] or json.dumps(row["counts"], sort_keys=True)
        lines.append(
            (
                f"{row['started_at']:%Y-%m-%d %H:%M:%S}",
                row["job_name"],
                row["status"],
                seconds,
                row["host"],
                str(row["pid"]),
                detail[:80],
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


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
                (line.split("Example:", 1)[1].strip() for line in doc.splitlines() if "Example:" in line),
                "",
            )
            found.append((name.replace("_", "-"), example))
    return found


# "\b" keeps click from re-wrapping the example lines.
app.info.epilog = "Examples:\n\n\b\n" + "\n".join(f"  {example}" for _, example in examples())


def main() -> None:
    """Entry point: run the app; civicquant's errors become one line and an exit status."""
    try:
        app()
    except CivicquantError as exc:
        typer.echo(f"civicquant: error: {logs.redact(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("civicquant: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: one line for the operator, the traceback in the log
        logs.get_logger("civicquant").exception("internal_error")
        typer.echo(
            f"civicquant: internal error: {type(exc).__name__}: {logs.redact(str(exc))}",
            err=True,
        )
        sys.exit(70)
