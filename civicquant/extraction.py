"""What an extractor reads from one post: topic, headline, summary, entities and urgency.

Every provider returns an `Extraction`: the rule-based extractor (`civicquant.extract.rules`) and
an OpenAI-compatible LLM, whose JSON answer is validated against this model and whose
response schema is `Extraction.model_json_schema()`. So the model stays schema-friendly:
every field required (nullable where absent is meaningful), no extra keys, bounds and
descriptions on every field, enums as plain string literals.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Topic = Literal[
    "markets",
    "macro",
    "geopolitics",
    "energy",
    "crypto",
    "politics",
    "companies",
    "society",
    "technology",
    "science",
    "sports",
    "entertainment",
    "other",
]
TOPICS: tuple[Topic, ...] = (
    "markets",
    "macro",
    "geopolitics",
    "energy",
    "crypto",
    "politics",
    "companies",
    "society",
    "technology",
    "science",
    "sports",
    "entertainment",
    "other",
)

EntityKind = Literal[
    "country", "institution", "central_bank", "person", "organisation", "ticker", "figure"
]
ENTITY_KINDS: tuple[EntityKind, ...] = (
    "country",
    "institution",
    "central_bank",
    "person",
    "organisation",
    "ticker",
    "figure",
)

BreakingWindow = Literal["15m", "1h", "4h"]
BREAKING_WINDOWS: tuple[BreakingWindow, ...] = ("15m", "1h", "4h")

HEADLINE_MAX_CHARS = 200
SUMMARY_MAX_CHARS = 1000
ENTITY_TEXT_MAX_CHARS = 200
ENTITIES_MAX = 50

_TOPIC_HELP = (
    "The post's main subject, one of: markets (stocks, bonds, FX, indices, trading); "
    "macro (macro-economy and central banks: inflation, rates, GDP, jobs, budgets, trade); "
    "geopolitics (geopolitics and armed conflict: war, strikes, sanctions, diplomacy); "
    "energy (energy and commodities: oil, gas, power, metals, grain); crypto; "
    "politics (politics and elections: governments, parliaments, votes, protests); "
    "companies (companies and earnings: results, deals, management, bankruptcies); "
    "society (crime, courts, accidents, disasters, health, education, social issues); "
    "technology (gadgets, software, the internet, AI, telecoms, cyber security); "
    "science (research, space, medicine as science, climate science, nature); "
    "sports; entertainment (film, music, television, celebrities, culture); "
    "other (none of these)."
)


class Entity(BaseModel):
    """One thing a post names: a country, institution, person, ticker or figure."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: EntityKind = Field(
        description=(
            "country (canonical English name), institution (IMF, NATO, OPEC, EU, ...), "
            "central_bank (Federal Reserve, ECB, Bank of Russia, ...), person, "
            "organisation (a company or other body), ticker (symbol without '$', "
            "e.g. AAPL), figure (a number with its unit as written, e.g. '2.5%', '$1.2bn')."
        )
    )
    text: str = Field(
        min_length=1,
        max_length=ENTITY_TEXT_MAX_CHARS,
        description="The entity as a reader would name it, canonical where one exists.",
    )


class Extraction(BaseModel):
    """The structured reading of one post; `is_breaking` and `breaking_window` agree."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: Topic = Field(description=_TOPIC_HELP)
    headline: str = Field(
        max_length=HEADLINE_MAX_CHARS,
        pattern=r"^[^\r\n]*$",
        description=(
            "One line in the post's language: what happened, without links, hashtags, "
            "emoji or breaking markers. Empty only when the post has no text."
        ),
    )
    summary: str = Field(
        max_length=SUMMARY_MAX_CHARS,
        description="Up to three sentences in the post's language, cleaned like the headline.",
    )
    entities: list[Entity] = Field(
        max_length=ENTITIES_MAX,
        description="Named entities and figures, deduplicated, in order of first appearance.",
    )
    is_breaking: bool = Field(
        description="True when the post presents itself as breaking or urgent news."
    )
    breaking_window: BreakingWindow | None = Field(
        description=(
            "How long the news stays urgent: 15m (flash), 1h (ordinary breaking), "
            "4h (developing / soft). Null exactly when is_breaking is false."
        )
    )
    importance: float = Field(
        ge=0.0,
        le=1.0,
        description="How much the post matters to a markets and news reader, 0 to 1.",
    )
    language: str = Field(
        min_length=2,
        max_length=3,
        pattern=r"^(?:[a-z]{2}|und)$",
        description="ISO 639-1 code of the post's language (en, ru, uk, zh, ...), or 'und'.",
    )

    @model_validator(mode="after")
    def _window_only_when_breaking(self) -> Extraction:
        if self.is_breaking and self.breaking_window is None:
            raise ValueError("breaking_window is required when is_breaking is true")
        if not self.is_breaking and self.breaking_window is not None:
            raise ValueError("breaking_window must be null when is_breaking is false")
        return self
