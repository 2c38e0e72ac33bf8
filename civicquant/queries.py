"""Named SQL queries, parsed once from the `.sql` files under `civicquant/sql/queries/`.

Each query is a block headed by `-- name --`, then a one-line `-- description`, then the
statement with `%(param)s` placeholders (procrastinate's convention). Queries are never
built by string formatting.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_HEADER = re.compile(r"^-- ([a-z_][a-z0-9_]*) --$", re.MULTILINE)


def parse(text: str) -> dict[str, str]:
    """Return {name: statement} for the named blocks in one queries file."""
    parts = _HEADER.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        lines = body.strip().splitlines()
        if lines and lines[0].startswith("--"):
            lines = lines[1:]  # the description line
        statement = "\n".join(lines).strip().rstrip(";").strip()
        if not statement:
            raise ValueError(f"query {name!r} is empty")
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice")
        queries[name] = statement
    return queries


@cache
def all_queries() -> dict[str, str]:
    """Every named query shipped with the package."""
    folder = resources.files("civicquant") / "sql" / "queries"
    merged: dict[str, str] = {}
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if not entry.name.endswith(".sql"):
            continue
        for name, statement in parse(entry.read_text(encoding="utf-8")).items():
            if name in merged:
                raise ValueError(f"query {name!r} is defined in two files")
            merged[name] = statement
    return merged


def query(name: str) -> str:
    """The statement for one named query; KeyError names what is missing."""
    try:
        return all_queries()[name]
    except KeyError:
        raise KeyError(f"no query named {name!r} in civicquant/sql/queries/") from None
