"""`extract_llm`: posts/s of `civicquant extract --oneshot --concurrency 16` against a slow LLM.

The LLM is tests/fakes/chat_server.py's ChatServer on 127.0.0.1, holding every answer
200 ms (its default answer is the rules extraction of the post). With 16 calls in flight
the ideal is 16 / 0.2 s = 80 posts/s; the figure is reported as a share of that. Timed
from process start to exit, as cron sees it (so start-up and the last batch's commit count).
2,000 posts keep the LLM busy 25 s, about half of a cron tick's `extract --max-runtime 55s`:
with 800 (10 s) the process's fixed ~0.7 s before its first call and ~0.2 s after its last
answer were 9% of the wall time, more than any one cron run pays.
"""

from __future__ import annotations

import sys

from bench import processes, seed
from bench.context import Context
from bench.extract_rules import ok_jobs
from bench.pg import scratch_database
from bench.results import Row, fmt, verdict

CONCURRENCY = 16
DELAY_SECONDS = 0.2
TARGET_RATIO = 0.85


def run(ctx: Context) -> list[Row]:
    if str(processes.REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(processes.REPO_ROOT))
    from tests.fakes.chat_server import ChatServer

    posts = ctx.size(2_000, 160)
    ideal = CONCURRENCY / DELAY_SECONDS
    with scratch_database(ctx.server, "extract_llm") as url:
        jobs = seed.store_posts(url, posts)
        with ChatServer(delay=DELAY_SECONDS) as chat:
            env = processes.child_env(
                url,
                ctx.workdir / "home",
                LLM_PROVIDER="openai",
                LLM_API_URL=chat.url,
                LLM_MODEL_NAME="bench",
            )
            args = [
                processes.civicquant(),
                "extract",
                "--oneshot",
                "--concurrency",
                str(CONCURRENCY),
            ]
            finished = processes.run(args, env, ctx.workdir).check("civicquant extract")
            served, most_in_flight = len(chat.requests), chat.max_in_flight
        done = ok_jobs(url)
    if done != jobs:
        raise RuntimeError(f"extract left work: {done} of {jobs} jobs ok")
    rate = done / finished.seconds
    return [
        Row(
            name=f"extract_llm --concurrency {CONCURRENCY}: {jobs:,} posts, 200 ms LLM",
            measured=rate,
            unit="posts/s",
            reference=f"ideal {fmt(ideal, 'posts/s')} (16 / 0.2 s)",
            ratio=rate / ideal,
            target=f">= {TARGET_RATIO}x",
            verdict=verdict(rate / ideal >= TARGET_RATIO),
            note=(
                f"{finished.seconds:.1f} s wall, {served:,} LLM requests, "
                f"at most {most_in_flight} in flight"
            ),
        )
    ]
