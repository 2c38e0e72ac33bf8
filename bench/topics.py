"""Topic accuracy of the rules extractor on labelled news, under written-down mappings.

Part of `quality` (`make bench-quality`). Each labelled text goes through the real
`civicquant.extract.rules.extract` (the extract step is the pipeline's only topic source, so
no database is needed) as a Telegram post would carry it: the title, a line break, then the
first `LEAD_CHARS` characters of the text; and again with the whole text.

The datasets' classes are not civicquant's topics; a prediction is right when its topic is
in the class's set:

- AG News (`ag_news_train_5000.csv`, four classes): World -> politics, geopolitics,
  society; Sports -> sports; Business -> markets, macro, energy, crypto, companies;
  Sci/Tech -> technology, science.
- tgcontest categories (`tgcontest_{en,ru}_categories_dev.tsv`): society -> politics,
  geopolitics, society; economy -> the five finance topics; technology, sports,
  entertainment, science -> the topic of that name; other and not_news -> any topic that is
  neither finance nor politics/geopolitics (other, society, technology, science, sports,
  entertainment): these labels say only what the item is not.

Out of scope: an item whose class is neither World/society nor Business/economy. The
out-of-scope share is the fraction of those given a finance or politics/geopolitics topic.
Macro-F1 is over the datasets' classes, a prediction counted for the first class whose set
holds its topic (`other` counts for no class, except through other/not_news).
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.processes import REPO_ROOT
from bench.results import Row, verdict
from civicquant.extract import rules
from civicquant.extraction import TOPICS

DATA = REPO_ROOT.parent / "shared" / "data" / "quality"
SHOWN_DATA = "../shared/data/quality"
LEAD_CHARS = 300  # a post-sized lead, as the pair rows of bench/quality.py use

FINANCE = frozenset({"markets", "macro", "energy", "crypto", "companies"})
POLITICS = frozenset({"politics", "geopolitics"})
IN_SCOPE_TOPICS = FINANCE | POLITICS
NEWS_TOPICS = frozenset({"politics", "geopolitics", "society"})
NOT_FINANCE_OR_POLITICS = frozenset(TOPICS) - IN_SCOPE_TOPICS

# Targets, from the issue.
AG_ACCURACY_TARGET = 0.80
TGCONTEST_ACCURACY_TARGET = 0.75
OUT_OF_SCOPE_TARGET = 0.10


@dataclass(frozen=True, slots=True)
class ClassMap:
    """A dataset's classes: for each, the topics that count as right, and scope."""

    classes: Mapping[str, frozenset[str]]
    in_scope: frozenset[str]  # classes whose news may rightly get a finance/politics topic


AG_MAPPING = ClassMap(
    classes={
        "World": NEWS_TOPICS,
        "Sports": frozenset({"sports"}),
        "Business": FINANCE,
        "Sci/Tech": frozenset({"technology", "science"}),
    },
    in_scope=frozenset({"World", "Business"}),
)
AG_LABELS = {"0": "World", "1": "Sports", "2": "Business", "3": "Sci/Tech"}

TGCONTEST_MAPPING = ClassMap(
    classes={
        "society": NEWS_TOPICS,
        "economy": FINANCE,
        "technology": frozenset({"technology"}),
        "science": frozenset({"science"}),
        "sports": frozenset({"sports"}),
        "entertainment": frozenset({"entertainment"}),
        "other": NOT_FINANCE_OR_POLITICS,
        "not_news": NOT_FINANCE_OR_POLITICS,
    },
    in_scope=frozenset({"society", "economy"}),
)


@dataclass(frozen=True, slots=True)
class Item:
    """One labelled text: its title (may be empty), its text and its class."""

    title: str
    text: str
    label: str

    def post(self, cut: int | None) -> str:
        """The text as a post carries it: title, line break, the text (cut when given)."""
        text = self.text if cut is None else self.text[:cut]
        return f"{self.title}\n{text}" if self.title else text


@dataclass(frozen=True, slots=True)
class Scores:
    """Accuracy, macro-F1, out-of-scope share and the confusion (class -> topic -> n)."""

    accuracy: float
    macro_f1: float
    out_of_scope: float
    out_of_scope_items: int
    items: int
    confusion: dict[str, Counter[str]]


def read_ag(path: Path) -> list[Item]:
    """AG News rows: "title description",label (the title is not separated from the text)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return [Item("", text, AG_LABELS[label]) for text, label in csv.reader(handle)]


def read_tgcontest(path: Path) -> list[Item]:
    """tgcontest category rows: INPUT:title, INPUT:text, GOLDEN:res."""
    csv.field_size_limit(sys.maxsize)  # whole articles in one field
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            Item(row["INPUT:title"].strip(), row["INPUT:text"].strip(), row["GOLDEN:res"])
            for row in csv.DictReader(handle, delimiter="\t")
        ]


def predict(items: Sequence[Item], cut: int | None) -> list[str]:
    """The rules extractor's topic for each item's post."""
    return [rules.extract(item.post(cut)).topic for item in items]


def score(items: Sequence[Item], topics: Sequence[str], mapping: ClassMap) -> Scores:
    """The scores of `topics` (one per item) against the items' classes under `mapping`."""
    confusion: dict[str, Counter[str]] = {label: Counter() for label in mapping.classes}
    right = 0
    out_items = out_wrong = 0
    true_pos: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    gold: Counter[str] = Counter()
    for item, topic in zip(items, topics, strict=True):
        confusion[item.label][topic] += 1
        correct = topic in mapping.classes[item.label]
        right += correct
        gold[item.label] += 1
        as_class = item.label if correct else _class_of(topic, mapping)
        if as_class is not None:
            predicted[as_class] += 1
            true_pos[as_class] += as_class == item.label
        if item.label not in mapping.in_scope:
            out_items += 1
            out_wrong += topic in IN_SCOPE_TOPICS
    f1s = []
    for label in mapping.classes:
        if not gold[label]:
            continue
        precision = true_pos[label] / predicted[label] if predicted[label] else 0.0
        recall = true_pos[label] / gold[label]
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return Scores(
        accuracy=right / len(items) if items else 0.0,
        macro_f1=sum(f1s) / len(f1s) if f1s else 0.0,
        out_of_scope=out_wrong / out_items if out_items else 0.0,
        out_of_scope_items=out_items,
        items=len(items),
        confusion=confusion,
    )


def _class_of(topic: str, mapping: ClassMap) -> str | None:
    """The first class whose topics hold `topic` (None for none)."""
    for label, topics in mapping.classes.items():
        if topic in topics:
            return label
    return None


@dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    file: str
    mapping: ClassMap
    target: float


DATASETS = (
    Dataset("ag_news", "ag_news_train_5000.csv", AG_MAPPING, AG_ACCURACY_TARGET),
    Dataset(
        "tgcontest_en",
        "tgcontest_en_categories_dev.tsv",
        TGCONTEST_MAPPING,
        TGCONTEST_ACCURACY_TARGET,
    ),
    Dataset(
        "tgcontest_ru",
        "tgcontest_ru_categories_dev.tsv",
        TGCONTEST_MAPPING,
        TGCONTEST_ACCURACY_TARGET,
    ),
)
VARIANTS = ((f"title + first {LEAD_CHARS} chars", LEAD_CHARS), ("whole text", None))


def read(dataset: Dataset) -> list[Item] | None:
    """The dataset's items, or None when its file is absent."""
    path = DATA / dataset.file
    if not path.exists():
        return None
    return read_ag(path) if dataset.name == "ag_news" else read_tgcontest(path)


def measure(dataset: Dataset, items: Sequence[Item]) -> list[tuple[str, Scores]]:
    """(variant, scores) for the lead and the whole text."""
    return [
        (variant, score(items, predict(items, cut), dataset.mapping)) for variant, cut in VARIANTS
    ]


def rows() -> list[Row]:
    """Accuracy, macro-F1 and out-of-scope rows per dataset and variant."""
    found: list[Row] = []
    for dataset in DATASETS:
        items = read(dataset)
        part = f"quality topics {dataset.name}"
        if items is None:
            where = f"{SHOWN_DATA}/{dataset.file}"
            note = f"{where} is absent (the labelled data lives outside the repository): skipped"
            found.append(
                Row(part, None, "", "", None, "", f"not yet measured: needs {where}", note)
            )
            continue
        for variant, scores in measure(dataset, items):
            lead = variant != "whole text"
            found.append(
                Row(
                    name=f"{part} accuracy, {variant}",
                    measured=100 * scores.accuracy,
                    unit="%",
                    reference=f"{scores.items} items",
                    ratio=None,
                    target=f">= {dataset.target:.0%}" if lead else "",
                    verdict=verdict(scores.accuracy >= dataset.target) if lead else "report",
                    note=f"macro-F1 {scores.macro_f1:.3f}",
                )
            )
            found.append(
                Row(
                    name=f"{part} out of scope given finance/politics, {variant}",
                    measured=100 * scores.out_of_scope,
                    unit="%",
                    reference=f"{scores.out_of_scope_items} out-of-scope items",
                    ratio=None,
                    target=f"<= {OUT_OF_SCOPE_TARGET:.0%}" if lead else "",
                    verdict=verdict(scores.out_of_scope <= OUT_OF_SCOPE_TARGET)
                    if lead
                    else "report",
                )
            )
    return found


def datasets() -> list[str]:
    """One line per topic file for the results: where it is and its items (all used)."""
    lines = []
    for dataset in DATASETS:
        items = read(dataset)
        where = f"`{SHOWN_DATA}/{dataset.file}`"
        lines.append(
            f"{where}: absent, skipped"
            if items is None
            else f"{where}: {len(items):,} items, all used"
        )
    return lines


def confusion_lines() -> list[str]:
    """The "### Topics" section: each dataset's confusion matrix on the lead variant."""
    lines = [
        "### Topics",
        "",
        "Rows: the dataset's class; columns: the rules extractor's topic on the title + first"
        f" {LEAD_CHARS} characters (mappings in `bench/topics.py`).",
        "",
    ]
    for dataset in DATASETS:
        items = read(dataset)
        if items is None:
            lines += [f"- {dataset.name}: {SHOWN_DATA}/{dataset.file} is absent, skipped", ""]
            continue
        scores = score(items, predict(items, LEAD_CHARS), dataset.mapping)
        lines += [f"{dataset.name} ({scores.items} items):", "", *matrix(scores.confusion), ""]
    return lines


def matrix(confusion: Mapping[str, Counter[str]]) -> list[str]:
    """A Markdown table: one row per class, one column per topic that occurs."""
    seen = {topic for counts in confusion.values() for topic in counts}
    columns = [topic for topic in TOPICS if topic in seen]
    header = "| class | " + " | ".join(columns) + " |"
    rule = "|---|" + "---|" * len(columns)
    body = [
        f"| {label} | " + " | ".join(str(counts[topic] or "") for topic in columns) + " |"
        for label, counts in confusion.items()
        if counts
    ]
    return [header, rule, *body]
