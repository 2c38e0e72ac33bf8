"""Hostile Telegram Desktop exports through `backfill --from-export`, as cron runs it.

Each file gives one `civicquant: error:` line naming the message (or the header) and exit
status 2, in bounded memory and time, and the posts before the fault are kept.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from pathlib import Path

import pytest

from tests.reliability.support import CIVICQUANT, ERROR_PREFIX, cli_env, query

# The import of a normal export runs in less than half of this (its threads' stacks and
# arenas included); a 60 KB file nested 30,000 deep took 2.2 GB before the fix.
ADDRESS_SPACE_LIMIT = 1536 * 1024 * 1024
HEADER = b'{\n "name": "Wire",\n "type": "public_channel",\n "id": 1555000001,\n'


def message(message_id: int, text: bytes) -> bytes:
    return (
        b'  {\n   "id": %d,\n   "type": "message",\n   "date_unixtime": "1763600000",\n'
        b'   "text": %s\n  }' % (message_id, text)
    )


def export(*messages: bytes, header: bytes = HEADER) -> bytes:
    return header + b' "messages": [\n' + b",\n".join(messages) + b"\n ]\n}\n"


def run_import(path: Path, url: str, home: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    def cap_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))

    started = time.monotonic()
    result = subprocess.run(
        [str(CIVICQUANT), "backfill", "--from-export", str(path)],
        env=cli_env(url, home),
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=cap_memory,
        check=False,
    )
    return result, time.monotonic() - started


DEEP = b"[" * 30_000 + b"]" * 30_000
LONG = b'"' + b"a" * (100 * 1024 * 1024) + b'"'


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(
            export(message(1, b'"first"'), message(2, DEEP), message(3, b'"third"')),
            "message 2 nests deeper than 1024 levels (messages[1], after message 1,",
            id="deep-message",
        ),
        pytest.param(
            export(message(1, b'"first"'), message(2, LONG)),
            "message 2 holds a string or value longer than 1048576 bytes (messages[1],",
            id="long-string-in-a-message",
        ),
        pytest.param(
            export(message(1, b'"first"'), header=HEADER.replace(b'"Wire"', LONG)),
            "the header holds a string or value longer than 1048576 bytes (before byte",
            id="long-string-in-the-header",
        ),
        pytest.param(
            export(message(1, b'"first"'), header=HEADER.replace(b'"Wire"', DEEP)),
            "the header nests deeper than 1024 levels (before byte",
            id="deep-header",
        ),
    ],
)
def test_hostile_export_gives_one_error_naming_the_message_in_bounded_memory_and_time(
    content: bytes, expected: str, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "result.json"
    path.write_bytes(content)
    result, elapsed = run_import(path, database_url, tmp_path / "home")
    described = f"exit {result.returncode}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    assert "Traceback" not in result.stdout + result.stderr, described
    assert result.returncode == 2, described
    [line] = [line for line in result.stderr.splitlines() if line.startswith("civicquant:")]
    assert line.startswith(f"{ERROR_PREFIX}{path}: {expected}"), line
    assert elapsed < 20, described
    if b'"first"' in content and not expected.startswith("the header"):
        stored = query(database_url, "SELECT message_id FROM raw_messages ORDER BY message_id")
        assert [row["message_id"] for row in stored] == [1]


def test_a_message_just_within_the_limits_is_imported(database_url: str, tmp_path: Path) -> None:
    deep = b"[" * 1022 + b'"x"' + b"]" * 1022  # the message, its text list and 1022 below it
    long_text = b'"' + b"a" * (1 << 19) + b'"'
    path = tmp_path / "result.json"
    path.write_bytes(export(message(1, b'"first"'), message(2, long_text), message(3, deep)))
    result, _elapsed = run_import(path, database_url, tmp_path / "home")
    # message 3's text is a list of lists: malformed text, named as such, not as too deep
    assert result.returncode == 2, result.stderr
    assert "message 3 has malformed text" in result.stderr, result.stderr
    stored = query(database_url, "SELECT message_id FROM raw_messages ORDER BY message_id")
    assert [row["message_id"] for row in stored] == [1, 2]


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_from_export_refuses_anything_but_a_regular_file_at_once(
    kind: str, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "result.json"
    if kind == "fifo":
        os.mkfifo(path)  # no writer: opening it for reading would wait for one
    elif kind == "directory":
        path.mkdir()
    else:
        path = Path("/dev/zero")
    process = subprocess.Popen(
        [str(CIVICQUANT), "backfill", "--from-export", str(path)],
        env=cli_env(database_url, tmp_path / "home"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _stdout, stderr = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        # The old behaviour: blocked in open(); SIGTERM must still end it within a second.
        process.terminate()
        try:
            process.communicate(timeout=1)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise AssertionError("hung on the file and ignored SIGTERM") from None
        raise AssertionError("hung on the file (ended by SIGTERM)") from None
    assert process.returncode == 2, stderr
    [line] = [line for line in stderr.splitlines() if line.startswith("civicquant:")]
    assert line.startswith(f"{ERROR_PREFIX}{path}: "), line
    assert ("a directory" if kind == "directory" else "not a regular file") in line, line


def test_two_messages_with_one_id_in_one_batch_keep_both_texts(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "result.json"
    path.write_bytes(
        export(
            message(1, b'"first"'),
            message(2, b'"the original text"'),
            message(2, b'"a second text under the same id"'),
            message(3, b'"third"'),
        )
    )
    result, _elapsed = run_import(path, database_url, tmp_path / "home")
    assert result.returncode == 0, result.stderr
    [post] = query(database_url, "SELECT id, text FROM raw_messages WHERE message_id = 2")
    assert post["text"] == "the original text"
    revisions = query(
        database_url,
        "SELECT text FROM raw_message_revisions WHERE raw_message_id = %(id)s",
        {"id": post["id"]},
    )
    assert [row["text"] for row in revisions] == ["a second text under the same id"]
    [current] = query(database_url, "SELECT text FROM raw_messages_current WHERE message_id = 2")
    assert current["text"] == "a second text under the same id"
