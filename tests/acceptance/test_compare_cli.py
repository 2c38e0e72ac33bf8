"""`civicquant compare` as an operator runs it after a reparse."""

from __future__ import annotations

import json
from pathlib import Path

from tests.acceptance.conftest import run_cli

SAMPLE = Path(__file__).resolve().parents[2] / "civicquant" / "samples" / "demo_wirewatch.json"


def test_reparse_then_compare_two_versions(database_url: str) -> None:
    env = {"DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    assert run_cli("backfill", "--from-export", str(SAMPLE), env=env).returncode == 0
    assert run_cli("extract", "--oneshot", "--no-side-effects", env=env).returncode == 0
    assert run_cli("enqueue", "--pipeline-version", "v2", env=env).returncode == 0
    extracted = run_cli(
        "extract", "--oneshot", "--no-side-effects", "--pipeline-version", "v2", env=env
    )
    assert extracted.returncode == 0, extracted.stderr

    report = run_cli("compare", "v1", "v2", "--format", "json", env=env)
    assert report.returncode == 0, report.stderr
    payload = json.loads(report.stdout)
    assert payload["coverage"]["in_both"] == 25
    text = run_cli("compare", "v1", "v2", env=env)
    assert "AGREEMENT over 25 posts in both" in text.stdout

    unknown = run_cli("compare", "v1", "v9", env=env)
    assert unknown.returncode == 2
    assert unknown.stderr.strip().splitlines()[-1] == (
        "civicquant: error: no extractions for pipeline version 'v9'"
    )
