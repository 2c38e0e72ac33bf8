"""The crontab: the shipped schedule, filled in with this installation's paths."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from importlib import resources
from pathlib import Path

from civicquant.config import Settings
from civicquant.errors import ConfigError
from civicquant.publish.routes import Routes, cron_schedule, default_routes, load_routes


def executable() -> Path:
    """The absolute path of the installed `civicquant` executable."""
    beside_python = Path(sys.executable).parent / "civicquant"
    if beside_python.exists():
        return beside_python.absolute()
    found = shutil.which("civicquant")
    return Path(found).absolute() if found else beside_python.absolute()


def template() -> str:
    """The schedule as shipped, with `{placeholders}`."""
    return (resources.files("civicquant") / "cron" / "civicquant.crontab").read_text("utf-8")


def for_installation(
    settings: Settings, *, log_dir: Path | None = None, textfile: Path | None = None
) -> str:
    """The crontab for this installation: its env file, log folder (created), textfile and
    one digest line per route (CIVICQUANT_ROUTES, else the built-in routes).

    The env file is CIVICQUANT_ENV_FILE (what `--env-file` sets), else `./.env`; logs go
    to CIVICQUANT_HOME/logs and the textfile to CIVICQUANT_HOME/civicquant.prom by default.
    """
    routes = load_routes(settings)
    env_file = Path(os.environ.get("CIVICQUANT_ENV_FILE") or ".env")
    if not env_file.expanduser().is_file():
        # Cron would start every job with no settings at all: say so now, not at 3 am.
        raise ConfigError(
            f"env file {env_file.expanduser().absolute()} does not exist: the crontab's jobs "
            "would run without settings; create it (cp .env.example .env && chmod 600 .env) "
            "or name one with --env-file"
        )
    logs_at = log_dir or settings.home / "logs"
    logs_at.expanduser().mkdir(parents=True, exist_ok=True)
    return render(
        env_file=env_file,
        log_dir=logs_at,
        textfile=textfile or settings.home / "civicquant.prom",
        routes=routes,
        home=settings.home,
    )


def route_lines(routes: Routes) -> str:
    """A `digest --queue NAME` line for each route: a digest or breaking route at its
    cadence, a flash route's outbox drain every minute."""
    return "\n".join(
        f"{cron_schedule(route):<13} {{civicquant}} digest --queue {route.name}"
        " > /dev/null 2>> {log_dir}/digest.log"
        for route in routes
    )


def render(
    *,
    env_file: Path,
    log_dir: Path,
    textfile: Path,
    program: Path | None = None,
    routes: Routes | None = None,
    home: Path | None = None,
) -> str:
    """The crontab ready for `crontab -`, every path absolute (default: built-in routes).

    `home` is CIVICQUANT_HOME as this command sees it, so cron's jobs use the same embedded
    database (when DATABASE_URL is unset) and the same logs.
    """
    in_commands = {
        "civicquant": program or executable(),
        "log_dir": log_dir,
        "textfile": textfile,
    }
    text = template().replace("{routes}", route_lines(routes or default_routes(Settings())))
    # An environment line takes a quoted value as it is; `%` means nothing there.
    text = text.replace("{env_file}", shlex.quote(str(env_file.expanduser().absolute())))
    home_at = (home or Settings().home).expanduser().absolute()
    text = text.replace("{home}", shlex.quote(str(home_at)))
    for key, path in in_commands.items():
        text = text.replace("{" + key + "}", _command_word(path.expanduser().absolute()))
    return text


def _command_word(path: Path) -> str:
    """A path as one shell word in a cron command: quoted, `%` escaped (cron's newline)."""
    return shlex.quote(str(path)).replace("%", "\\%")
