"""Breaking flags and headline faults of the rules extractor, per corpus, against main's.

`rows()` gives, for each dev corpus in ../shared/data/quality/, the demo samples and the
real Telegram export in ../shared/data/, two figures with main's (commit 5f65a0b, before
`lead` and `breaking`) as the reference:

- the share of posts flagged breaking;
- the share of headlines that are faulty: a greeting, salutation or religious formula, a
  sign-off, a decoration line, or cut inside a parenthesis or a figure.

The faults are read by checks written here, apart from the extractor's own word lists:
a few opening and closing formulas of our own, the Unicode category of every character
(letters and digits against the rest, styled letters counted apart), and for cuts the
source text itself (the headline stops where the post goes on inside an open parenthesis,
or at a '.' the post follows with a digit or a lower-case word). A file that is absent is
one "not yet measured" row. Nothing here needs a database; a run takes a few seconds.

    .venv/bin/python -m bench.breaking_quality       # prints the rows and the flagged posts
"""

from __future__ import annotations

import csv
import json
import re
import sys
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.processes import REPO_ROOT
from bench.results import Row
from civicquant.extract import rules
from civicquant.extraction import Extraction

SHARED = REPO_ROOT.parent / "shared" / "data"
DATA = SHARED / "quality"
SHOWN_DATA = "../shared/data"  # how rows and notes name it
SAMPLES = REPO_ROOT / "civicquant" / "samples"
EXPORT_FILE = "trantor_library_result.json"
LEAD_CHARS = 300  # a post-sized lead of a long article, as in bench/quality.py
REFERENCE = "main 5f65a0b"

csv.field_size_limit(sys.maxsize)

# Main's figures (flagged share, faulty share), measured with this module on main's
# extractor (a checkout of 5f65a0b first on sys.path); the corpora are fixed dev files.
BEFORE: dict[str, tuple[float, float]] = {
    "uci titles": (0.0082, 0.0024),  # 27 flagged (25 wire slugs "1-" and capitals), 8 cut
    "tgcontest_en categories": (0.0120, 0.0),  # 1 flagged: capitals
    "tgcontest_ru categories": (0.0, 0.0),
    "tgcontest_ru pairs": (0.0, 0.0),
    "nyan pairs": (0.0, 0.0),
    "demo samples": (0.1731, 0.0385),  # 9 flagged; the "(exp." cut and the sign-off
    "trantor export": (0.0, 0.0),
}

# -- corpora ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Corpus:
    """A named list of post texts, or why it could not be read."""

    name: str
    texts: list[str]
    missing: str = ""  # the absent file, shown as ../shared/data/...


def corpora() -> list[Corpus]:
    """Every corpus this module measures, in a fixed order."""
    return [
        _read("uci titles", "quality/uci_stories_dev.csv", _uci),
        _read("tgcontest_en categories", "quality/tgcontest_en_categories_dev.tsv", _articles),
        _read("tgcontest_ru categories", "quality/tgcontest_ru_categories_dev.tsv", _articles),
        _read("tgcontest_ru pairs", "quality/tgcontest_ru_pairs_dev.tsv", _article_pairs),
        _read("nyan pairs", "quality/nyan_telegram_pairs_dev.tsv", _post_pairs),
        Corpus("demo samples", [text for path in _demo_files() for text in _export(path)]),
        _read("trantor export", EXPORT_FILE, _export),
    ]


def _read(name: str, file: str, reader: Callable[[Path], Iterator[str]]) -> Corpus:
    path = SHARED / file
    if not path.exists():
        return Corpus(name, [], missing=f"{SHOWN_DATA}/{file}")
    return Corpus(name, [text for text in reader(path) if text.strip()])


def _tsv(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)


def _uci(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            yield row["TITLE"]


def _articles(path: Path) -> Iterator[str]:
    for row in _tsv(path):
        yield f"{row['INPUT:title']}\n\n{row['INPUT:text'][:LEAD_CHARS]}"


def _article_pairs(path: Path) -> Iterator[str]:
    for row in _tsv(path):
        for side in ("first", "second"):
            yield f"{row[f'INPUT:{side}_title']}\n\n{row[f'INPUT:{side}_text'][:LEAD_CHARS]}"


def _post_pairs(path: Path) -> Iterator[str]:
    for row in _tsv(path):
        yield row["INPUT:first_text"]
        yield row["INPUT:second_text"]


def _demo_files() -> list[Path]:
    return sorted(SAMPLES.glob("demo_*.json"))


def _export(path: Path) -> Iterator[str]:
    """The text of every message of a Telegram Desktop export, entities flattened."""
    for message in json.loads(path.read_text(encoding="utf-8"))["messages"]:
        text = message.get("text", "")
        if isinstance(text, list):
            text = "".join(part if isinstance(part, str) else part.get("text", "") for part in text)
        yield text


# -- faults, read independently of the extractor's lists ----------------------------------

# Our own short lists of openings and closings that are never news (en, ru, uk, Arabic
# transliterations); deliberately not the extractor's.
_GREETING_RE = re.compile(
    r"^(?:hello|hi|hey|greetings|good (?:morning|afternoon|evening|night)|dear (?:all|friends)"
    r"|salam|salaam|as-?salamu?|assalam\w*|bismillah\w*|in the name of (?:allah|god)"
    r"|ramadan (?:kareem|mubarak)|eid mubarak|jumm?a?h? mubarak"
    r"|привет\w*|здравствуйте|доброе утро|добрый (?:день|вечер)|доброй ночи|друзья"
    r"|привіт\w*|вітаю|доброго ранку|добрий (?:день|вечір)|друзі|слава україні)"
    # a greeting is followed by punctuation, the end, or a word of address
    r"(?:[\s,!.:;—-]*$|\s*[,!.:;—]|\s+(?:everyone|everybody|all|friends|друзья|друзі)(?!\w))",
    re.IGNORECASE,
)
_SIGN_OFF_RE = re.compile(
    r"signing off|see you (?:tomorrow|next)|that's (?:all|it) for|thanks for reading"
    r"|на этом вс[её]|на сегодня вс[её]|на сьогодні все|на цьому все",
    re.IGNORECASE,
)
# After a '.', the post goes on in the same sentence: a lower-case word, or a figure after
# a short word ("exp. 3.0%", "Ch. 11"; "области. 14 октября" is a new sentence).
_LOWER_AFTER_RE = re.compile(r"\s*[a-zа-яёіїєґ]")
_DIGIT_AFTER_RE = re.compile(r"\s*[\d$€£]")
_SHORT_WORD_RE = re.compile(r"(?:^|[\s(])[^\W\d_]{1,4}\.$")


def fault(extraction: Extraction, text: str) -> str:
    """What is wrong with the extraction's headline ('' when nothing is)."""
    headline = extraction.headline
    if not headline:
        return ""
    if _GREETING_RE.search(headline):
        return "greeting"
    if _SIGN_OFF_RE.search(headline):
        return "sign-off"
    if _is_decoration(headline):
        return "decoration"
    if _is_cut(headline, text):
        return "cut"
    return ""


def _is_decoration(headline: str) -> bool:
    """Fewer word characters than other marks, styled (mathematical) letters not counted."""
    words = marks = 0
    for char in headline:
        if char.isspace():
            continue
        category = unicodedata.category(char)
        styled = unicodedata.name(char, "").startswith("MATHEMATICAL")
        if category[0] in "LN" and category != "Lm" and not styled:
            words += 1
        else:
            marks += 1
    return words < marks


def _is_cut(headline: str, text: str) -> bool:
    """The headline stops inside a parenthesis or at a '.' its post goes on after."""
    if headline.endswith(("…", "...")):
        return False  # trimmed to length on purpose, by us or by the source
    if headline.count("(") > headline.count(")"):
        return True
    if not headline.endswith("."):
        return False
    at = text.find(headline)
    if at < 0:
        return False
    end = at + len(headline)
    if _LOWER_AFTER_RE.match(text, end):
        return True
    return (
        _SHORT_WORD_RE.search(headline) is not None and _DIGIT_AFTER_RE.match(text, end) is not None
    )


# -- measuring -------------------------------------------------------------------------------


@dataclass(slots=True)
class Measured:
    """One corpus read by one extractor: counts, and the flagged and faulty headlines."""

    posts: int = 0
    flagged: list[str] = field(default_factory=list)
    faults: dict[str, list[str]] = field(default_factory=dict)

    @property
    def faulty(self) -> int:
        return sum(len(headlines) for headlines in self.faults.values())


def measure(texts: list[str], extract: Callable[[str], Extraction] = rules.extract) -> Measured:
    """How many of `texts` `extract` flags breaking, and whose headlines are faulty."""
    result = Measured(posts=len(texts))
    for text in texts:
        extraction = extract(text)
        if extraction.is_breaking:
            result.flagged.append(f"[{extraction.breaking_window}] {extraction.headline}")
        kind = fault(extraction, text)
        if kind:
            result.faults.setdefault(kind, []).append(extraction.headline)
    return result


def rows(extract: Callable[[str], Extraction] = rules.extract) -> list[Row]:
    """Two rows per corpus (flagged share, faulty share) against main's; one when absent."""
    out: list[Row] = []
    for corpus in corpora():
        part = f"breaking_quality {corpus.name}"
        if corpus.missing:
            note = f"{corpus.missing} is absent (the data lives outside the repository): skipped"
            out.append(
                Row(part, None, "", "", None, "", f"not yet measured: needs {corpus.missing}", note)
            )
            continue
        result = measure(corpus.texts, extract)
        before_flagged, before_faulty = BEFORE.get(corpus.name, (0.0, 0.0))
        size = f"{result.posts:,} posts"
        kinds = ", ".join(f"{kind} {len(items)}" for kind, items in sorted(result.faults.items()))
        out.append(
            _share_row(
                f"{part}: flagged breaking", len(result.flagged), result.posts, before_flagged, size
            )
        )
        out.append(
            _share_row(
                f"{part}: faulty headlines",
                result.faulty,
                result.posts,
                before_faulty,
                f"{size}; {kinds or 'none'}",
            )
        )
    return out


def _share_row(name: str, count: int, posts: int, before: float, note: str) -> Row:
    share = count / posts if posts else 0.0
    ratio = share / before if before else None
    return Row(
        name, round(share, 4), "share", f"{REFERENCE}: {before:.4f}", ratio, "", "report", note
    )


def main() -> None:
    """Print every row, then the flagged posts and faulty headlines of each corpus."""
    for row in rows():
        print(f"{row.name:<60} {row.measured!s:>8}  ({row.reference})  {row.note}")
    for corpus in corpora():
        result = measure(corpus.texts)
        for headline in result.flagged[:10]:
            print(f"{corpus.name} flagged: {headline}")
        for kind, headlines in sorted(result.faults.items()):
            for headline in headlines[:5]:
                print(f"{corpus.name} {kind}: {headline}")


if __name__ == "__main__":
    main()
