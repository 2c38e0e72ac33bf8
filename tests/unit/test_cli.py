"""The command line's shape: help everywhere, an example per command, a fast start."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from civicquant.cli import app, examples

HEAVY = ("telethon", "telegram", "openai", "httpx")
# Cron starts `health` every minute: these cost it start-up time and are never needed there
# (bench/RESULTS.md, cold_start).
SLOW_TO_IMPORT = ("pydantic", "structlog", "numpy", "wordfreq", "Stemmer", "stopwordsiso")


def test_every_command_has_help_ending_with_an_example() -> None:
    found = examples()
    assert {"health", "runs", "cron", "db migrate", "db status"} <= {name for name, _ in found}
    for name, example in found:
        assert example.startswith("civicquant "), name


@pytest.mark.parametrize("name", [name for name, _ in examples()])
def test_each_command_help_runs(name: str) -> None:
    result = CliRunner().invoke(app, [*name.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output


def test_top_level_help_lists_an_example_for_every_command() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for _, example in examples():
        assert example in result.output


def loaded_modules(*argv: str, env: dict[str, str] | None = None) -> set[str]:
    code = (
        "import json, sys\n"
        f"sys.argv = ['civicquant', *{list(argv)!r}]\n"
        "from civicquant.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    return set(json.loads(result.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize("argv", [("--help",), ("health",)])
def test_cron_path_does_not_import_telegram_or_llm_clients(argv: tuple[str, ...]) -> None:
    import os

    env = {**os.environ, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    modules = loaded_modules(*argv, env=env)
    assert "civicquant.cli" in modules
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert heavy == []


@pytest.mark.parametrize("argv", [("--help",), ("health",)])
def test_cron_path_does_not_import_validation_logging_or_matching_libraries(
    argv: tuple[str, ...],
) -> None:
    import os

    env = {**os.environ, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    modules = loaded_modules(*argv, env=env)
    assert "civicquant.cli" in modules
    slow = sorted(m for m in modules if m.split(".")[0] in SLOW_TO_IMPORT)
    assert slow == []
