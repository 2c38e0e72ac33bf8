"""Providers for worker tests: scripted outcomes per post text, recording every call."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from civicquant.errors import CivicquantError
from civicquant.extract import rules
from civicquant.extract.providers import ProviderResult


class ScriptedProvider:
    """Answers like the rules provider unless `script(text)` raises or returns a delay."""

    name = "scripted"
    model = "scripted-1"
    prompt_fingerprint = "0" * 64

    def __init__(self, script: Callable[[str], float | None] | None = None) -> None:
        self.calls: list[str] = []
        self.closed = False
        self._script = script

    async def extract(self, text: str) -> ProviderResult:
        self.calls.append(text)
        if self._script is not None:
            delay = self._script(text)
            if delay:
                await asyncio.sleep(delay)
        return ProviderResult(rules.extract(text), 0.1, None, None)

    async def aclose(self) -> None:
        self.closed = True


def failing_with(error: CivicquantError, when: str) -> Callable[[str], float | None]:
    """A script that raises `error` for texts containing `when`."""

    def script(text: str) -> float | None:
        if when in text:
            raise error
        return None

    return script
