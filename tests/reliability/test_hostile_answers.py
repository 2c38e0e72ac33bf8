"""Hostile LLM answers through `civicquant extract`, a real process on a real database.

An answer the database could not store (a NUL, an unpaired surrogate) is cleaned alone and
never fails its neighbours; an answer echoing a known secret has it redacted before it is
stored.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from civicquant.db import Database
from civicquant.extract import rules
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog
from tests.fakes.chat_server import ChatServer, Reply, Request, completion
from tests.reliability.support import Processes, cli_env, query

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
LLM_KEY = "sk-hostile-answers-0123456789abcdef"
POISONED = 10
ORDINARY = 100


def seed(url: str) -> None:
    with Database.connect(url) as db:
        rawlog = RawLog(db, pipeline_version="v1")
        rawlog.save_channel(Channel(1001, "wirewatch"))
        posts = [
            RawPost(
                1001,
                i,
                T0 + timedelta(seconds=i * 7),
                text=(f"POISON {i}: " if i <= POISONED else f"Report {i}: ")
                + f"oil update number {i} with {i % 97}% change in {i // 8} markets",
            )
            for i in range(1, POISONED + ORDINARY + 1)
        ]
        rawlog.store(1001, posts, "live")


def hostile_answer(request: Request) -> Reply:
    text = request.user_text
    extraction = rules.extract(text).model_dump(mode="json")
    if text.startswith("POISON 1:"):
        extraction["headline"] = f"the key is {LLM_KEY}"  # a prompt injection's echo
    elif text.startswith("POISON"):
        extraction["headline"] = "nul\x00 and lone \ud800 surrogate"
        extraction["summary"] = "\x00"
    # json.dumps writes both as \u escapes, as a real server does
    content = json.dumps(extraction)
    return replace(completion(content), headers={})


def test_unstorable_or_leaking_answers_fail_no_neighbour_and_are_stored_clean(
    database_url: str, procs: Processes, tmp_path: Path
) -> None:
    seed(database_url)
    with ChatServer() as llm:
        llm.answer_with(hostile_answer)
        env = cli_env(
            database_url,
            tmp_path / "home",
            LLM_PROVIDER="openai",
            LLM_API_URL=llm.url,
            LLM_API_KEY=LLM_KEY,
            LLM_MODEL_NAME="test-model",
        )
        result = procs.cli("extract", "--oneshot", "--no-side-effects", env=env)
        calls = len(llm.requests)
    assert result.returncode == 0, result.describe()
    states = query(
        database_url, "SELECT status, count(*) AS n FROM extraction_jobs GROUP BY status"
    )
    assert {row["status"]: row["n"] for row in states} == {"ok": POISONED + ORDINARY}
    assert calls == POISONED + ORDINARY  # one call per post, no retries
    rows = query(database_url, "SELECT headline, summary FROM extractions")
    assert len(rows) == POISONED + ORDINARY
    headlines = {row["headline"] for row in rows}
    assert "nul and lone  surrogate" in headlines
    assert "the key is [REDACTED]" in headlines
    dumped = query(database_url, "SELECT string_agg(e::text, '') AS all FROM extractions e")
    assert LLM_KEY not in dumped[0]["all"]
    assert LLM_KEY not in result.stdout + result.stderr
