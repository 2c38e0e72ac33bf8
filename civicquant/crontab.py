"""The crontab: the shipped schedule, filled in with this installation's paths."""

from __future__ import annotations

import shutil
import sys
from importlib import resources
from pathlib import Path


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


def render(*, env_file: Path, log_dir: Path, textfile: Path, program: Path | None = None) -> str:
    """The crontab ready for `crontab -`, every path absolute."""
    values = {
        "civicquant": str(program or executable()),
        "env_file": str(env_file.expanduser().absolute()),
        "log_dir": str(log_dir.expanduser().absolute()),
        "textfile": str(textfile.expanduser().absolute()),
    }
    text = template()
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text
