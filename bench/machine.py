"""What the figures were measured on: CPU model, cores, memory, PostgreSQL version."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Machine:
    cpu: str
    cores: int
    memory_gib: float
    python: str
    postgres: str

    def describe(self) -> str:
        return (
            f"{self.cpu}, {self.cores} cores, {self.memory_gib:.1f} GiB RAM; "
            f"Python {self.python}; PostgreSQL {self.postgres}"
        )


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: other work on the machine skews figures."""
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def this_machine(postgres: str) -> Machine:
    return Machine(
        cpu=_cpu_model(),
        cores=len(os.sched_getaffinity(0)),
        memory_gib=_memory_kib() / 1024 / 1024,
        python=platform.python_version(),
        postgres=postgres,
    )


def _cpu_model() -> str:
    for line in _lines("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _memory_kib() -> int:
    for line in _lines("/proc/meminfo"):
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 0


def _lines(path: str) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
