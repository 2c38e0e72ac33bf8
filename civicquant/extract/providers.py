"""The extraction seam: a `Provider` turns a post's text into an `Extraction` with timing.

Two providers exist: `RulesAdapter` (the offline rule-based extractor,
`civicquant.extract.rules`) and `civicquant.extract.llm.OpenAICompatibleProvider` (any server
speaking the Chat Completions protocol). `civicquant.wiring.make_provider` picks one from
LLM_PROVIDER and imports only that one's module: the rules (their patterns are compiled at
import) or the LLM client with httpx, so a command starts without the other's import cost
under cron.

Callers may run several `extract` calls at once on one provider; `aclose` releases its
connections once the caller is done.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from civicquant.errors import CivicquantError
from civicquant.extraction import Extraction

__all__ = [
    "ExtractionValidationError",
    "Provider",
    "ProviderError",
    "ProviderResult",
    "RulesAdapter",
]


class ProviderError(CivicquantError):
    """The provider could not answer: network, timeout, a 4xx, or a 5xx after retries."""

    error_class = "provider_error"


class ExtractionValidationError(CivicquantError):
    """The provider answered, but the answer is not a valid `Extraction`."""

    error_class = "validation_error"


@dataclass(frozen=True)
class ProviderResult:
    """One extraction and what it cost: wall time of the call and tokens, when known."""

    extraction: Extraction
    latency_ms: float
    prompt_tokens: int | None
    completion_tokens: int | None


class Provider(Protocol):
    """Reads one post's text into an `Extraction`; safe to call concurrently."""

    name: str
    model: str
    prompt_fingerprint: str

    async def extract(self, text: str) -> ProviderResult:
        """The extraction of `text`, or ProviderError / ExtractionValidationError."""
        ...

    async def aclose(self) -> None:
        """Release connections; the provider is not used afterwards."""
        ...


def fingerprint(*parts: str) -> str:
    """SHA-256 hex of the parts joined by newlines: what a stored extraction was made with."""
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


class RulesAdapter:
    """The rule-based extractor as a Provider: offline, deterministic, no tokens."""

    def __init__(self) -> None:
        from civicquant.extract import rules

        self._extract = rules.extract
        self.name = "rules"
        self.model = rules.RULES_VERSION
        self.prompt_fingerprint = fingerprint(rules.RULES_VERSION)

    async def extract(self, text: str) -> ProviderResult:
        """`rules.extract(text)` with its latency; it is fast enough to run on the loop."""
        started = time.perf_counter()
        extraction = self._extract(text)
        latency_ms = (time.perf_counter() - started) * 1000
        return ProviderResult(extraction, latency_ms, prompt_tokens=None, completion_tokens=None)

    async def aclose(self) -> None:
        """Nothing to release."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"RulesAdapter(model={self.model!r})"
