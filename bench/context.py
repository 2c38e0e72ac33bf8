"""What every benchmark is given: the server, the run's size, and folders to work in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.pg import Server
from bench.results import Row

OUT = Path(__file__).resolve().parent / "out"  # cached inputs; gitignored


@dataclass(frozen=True, slots=True)
class Context:
    server: Server
    quick: bool
    workdir: Path  # a temp folder for this run: children's cwd and CIVICQUANT_HOME

    def size(self, full: int, quick: int) -> int:
        return quick if self.quick else full


Benchmark = Callable[[Context], list[Row]]
