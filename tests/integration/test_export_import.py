"""Importing Telegram Desktop exports into a real PostgreSQL."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bench.gen_export import generate
from civicquant.config import Settings
from civicquant.db import Database
from civicquant.errors import DatabaseError, InputFormatError
from civicquant.ingest import export_import
from civicquant.ingest.export_file import ExportFile
from civicquant.ingest.rawlog import RawLog
from civicquant.runtime.context import JobContext

SHARED_EXPORT = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "trantor_library_result.json"
)


@pytest.fixture
def ctx(settings: Settings, db: Database) -> JobContext:
    return JobContext(
        settings, db, "backfill", "00000000-0000-0000-0000-000000000000", threading.Event()
    )


def one(db: Database, sql: str) -> dict[str, Any]:
    """The first row of a query that must return one."""
    row = db.connection.execute(sql).fetchone()
    assert row is not None
    return row


def count(db: Database, sql: str) -> Any:
    return one(db, sql)["n"]


@pytest.mark.skipif(
    not SHARED_EXPORT.exists(), reason="../shared/data/trantor_library_result.json is absent"
)
def test_real_export_stores_every_post_once(ctx: JobContext, db: Database) -> None:
    rawlog = RawLog(db, pipeline_version="v1")
    export_import.import_export(ctx, rawlog, SHARED_EXPORT)
    assert count(db, "SELECT count(*) AS n FROM raw_messages") == 908
    assert (ctx.counts["posts"], ctx.counts["service_skipped"]) == (908, 16)
    first = one(db, "SELECT posted_at, source FROM raw_messages WHERE message_id = 3")
    assert first["posted_at"] == datetime.fromtimestamp(1689611059, tz=UTC)
    assert first["source"] == "export"
    channel = one(db, "SELECT * FROM channels")
    assert channel["channel_id"] == 1878264527
    assert channel["title"] == "川陀大学图书馆"

    again = JobContext(ctx.settings, db, "backfill", ctx.run_id, threading.Event())
    export_import.import_export(again, rawlog, SHARED_EXPORT)
    assert count(db, "SELECT count(*) AS n FROM raw_messages") == 908
    assert again.counts["inserted"] == 0
    assert again.counts["unchanged"] == 908


def test_cut_off_export_keeps_what_came_before_and_a_rerun_completes(
    ctx: JobContext, db: Database, tmp_path: Path
) -> None:
    full = tmp_path / "full.json"
    generate(1300, full)
    data = full.read_bytes()
    cut = tmp_path / "cut.json"
    cut.write_bytes(data[: int(len(data) * 0.9)])
    rawlog = RawLog(db, pipeline_version="v1")

    with pytest.raises(InputFormatError, match=r"cut\.json") as caught:
        export_import.import_export(ctx, rawlog, cut, batch_size=150)  # batches on both connections
    kept = count(db, "SELECT count(*) AS n FROM raw_messages")
    found = re.search(r"after message (\d+)", str(caught.value))
    assert found is not None
    last_read = int(found.group(1))
    # Every post before the break is stored, the part-filled last batch included, and the
    # high-water mark stands on the last of them.
    assert kept == sum(1 for post in ExportFile(full) if post.message_id <= last_read)
    assert kept > 1000
    assert count(db, "SELECT last_message_id AS n FROM channels") == count(
        db, "SELECT max(message_id) AS n FROM raw_messages"
    )

    with pytest.raises(InputFormatError):
        export_import.import_export(ctx, rawlog, cut)
    assert count(db, "SELECT count(*) AS n FROM raw_messages") == kept

    export_import.import_export(ctx, rawlog, full)
    assert count(db, "SELECT count(*) AS n FROM raw_messages") == 1300
    assert count(db, "SELECT count(*) - count(DISTINCT message_id) AS n FROM raw_messages") == 0


def test_a_batch_the_database_refuses_stops_the_mark_before_it(
    ctx: JobContext, db: Database, tmp_path: Path
) -> None:
    export = tmp_path / "export.json"
    generate(1500, export)
    ids = sorted(post.message_id for post in ExportFile(export))
    refused = ids[700]  # in the fifth batch of 150
    db.connection.execute(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        f" IF NEW.message_id = {refused} THEN RAISE EXCEPTION 'disk full'; END IF;"
        " RETURN NEW; END $$"
    )
    db.connection.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON raw_messages FOR EACH ROW EXECUTE FUNCTION refuse()"
    )
    rawlog = RawLog(db, pipeline_version="v1")

    with pytest.raises(DatabaseError, match="disk full"):
        export_import.import_export(ctx, rawlog, export, batch_size=150)

    stored = {
        row["message_id"] for row in db.connection.execute("SELECT message_id FROM raw_messages")
    }
    mark = count(db, "SELECT last_message_id AS n FROM channels")
    # Batches after the refused one may have been stored on the other connection, but the
    # mark says "everything up to here is stored": it stands before the hole.
    assert refused not in stored
    assert set(ids[:600]) <= stored
    assert mark is not None
    assert mark < refused
    assert {i for i in ids if i <= mark} <= stored


def small_export(path: Path, text: str) -> Path:
    path.write_text(
        json.dumps(
            {
                "name": "Wire",
                "type": "public_channel",
                "id": 99,
                "messages": [
                    {
                        "id": 1,
                        "type": "message",
                        "date": "2026-11-20T08:00:00",
                        "date_unixtime": "1763625600",
                        "from": "Wire",
                        "from_id": "channel99",
                        "text": text,
                        "text_entities": [{"type": "plain", "text": text}],
                    },
                ],
            }
        )
    )
    return path


def test_reimported_export_with_edited_text_adds_a_revision(
    ctx: JobContext, db: Database, tmp_path: Path
) -> None:
    rawlog = RawLog(db, pipeline_version="v1")
    export_import.import_export(ctx, rawlog, small_export(tmp_path / "a.json", "Rates held"))
    export_import.import_export(
        ctx, rawlog, small_export(tmp_path / "b.json", "Rates cut by 25 bps")
    )
    original = one(db, "SELECT text FROM raw_messages")["text"]
    current = one(db, "SELECT text FROM raw_messages_current")["text"]
    assert (original, current) == ("Rates held", "Rates cut by 25 bps")
    assert count(db, "SELECT count(*) AS n FROM raw_message_revisions") == 1


MIGRATED_GROUP = Path(__file__).resolve().parents[1] / "unit" / "exports" / "migrated_group.json"


def test_negative_ids_are_stored_and_never_move_the_mark_or_count_as_gaps(
    ctx: JobContext, db: Database
) -> None:
    rawlog = RawLog(db, pipeline_version="v1")
    export_import.import_export(ctx, rawlog, MIGRATED_GROUP, batch_size=2)
    ids = db.connection.execute(
        "SELECT message_id FROM raw_messages ORDER BY message_id"
    ).fetchall()
    assert [row["message_id"] for row in ids] == [-2, -1, 2, 4]
    senders = db.connection.execute(
        "SELECT sender, sender_id FROM raw_messages ORDER BY message_id"
    ).fetchall()
    assert [(r["sender"], r["sender_id"]) for r in senders] == [
        ("Ann Lee", "user111"),
        ("Bob Roe", "user222"),
        ("Ann Lee", "user111"),
        (None, None),
    ]
    channel = one(db, "SELECT last_message_id FROM channels")
    assert channel["last_message_id"] == 4
    # -2..4 would count -1 to 1 and 3: only the positive range counts, and 3 is a service
    # message, a known gap.
    assert rawlog.gaps(1234567891) == []
    assert rawlog.gap_counts()[0]["missing_ids"] == 0
    known = db.connection.execute(
        "SELECT message_id FROM missing_messages ORDER BY message_id"
    ).fetchall()
    assert [row["message_id"] for row in known] == [-3, 1, 3]


def test_service_ids_are_known_gaps_and_only_real_holes_count_as_missing(
    ctx: JobContext, db: Database, tmp_path: Path
) -> None:
    def message(message_id: int, kind: str) -> dict[str, Any]:
        return {
            "id": message_id,
            "type": kind,
            "date_unixtime": str(1763600000 + message_id),
            "text": "" if kind == "service" else f"post {message_id}",
        }

    # 1 and 2 are service messages before the first post; 5 to 7 too; 9 is a real hole.
    kinds = {1: "service", 2: "service", 5: "service", 6: "service", 7: "service"}
    messages = [message(i, kinds.get(i, "message")) for i in range(1, 12) if i != 9]
    path = tmp_path / "result.json"
    path.write_text(
        json.dumps({"name": "G", "type": "public_supergroup", "id": 77, "messages": messages})
    )
    rawlog = RawLog(db, pipeline_version="v1")
    export_import.import_export(ctx, rawlog, path, batch_size=2)
    assert rawlog.gaps(77) == [(9, 9)]
    assert rawlog.gap_counts()[0]["missing_ids"] == 1


WHOLE_ACCOUNT = Path(__file__).resolve().parents[1] / "unit" / "exports" / "whole_account.json"


def test_one_chat_of_a_whole_account_export_is_imported_and_no_other(
    ctx: JobContext, db: Database
) -> None:
    rawlog = RawLog(db, pipeline_version="v1")
    export_import.import_export(ctx, rawlog, WHOLE_ACCOUNT, chat="Test Channel")
    rows = db.connection.execute("SELECT channel_id, message_id, text FROM raw_messages").fetchall()
    assert [(r["channel_id"], r["message_id"], r["text"]) for r in rows] == [
        (1234567890, 2, "Channel post")
    ]
    channel = one(db, "SELECT channel_id, title, last_message_id FROM channels")
    assert (channel["channel_id"], channel["title"], channel["last_message_id"]) == (
        1234567890,
        "Test Channel",
        2,
    )


EXPORTS = Path(__file__).resolve().parents[1] / "unit" / "exports"


def test_a_failed_import_renames_nothing(ctx: JobContext, db: Database) -> None:
    rawlog = RawLog(db, pipeline_version="v1")
    with pytest.raises(InputFormatError):
        export_import.import_export(ctx, rawlog, EXPORTS / "truncated.json", username="wire")
    assert one(db, "SELECT username FROM channels")["username"] is None

    again = JobContext(ctx.settings, db, "backfill", ctx.run_id, threading.Event())
    export_import.import_export(again, rawlog, EXPORTS / "plain_text.json", username="wire")
    assert one(db, "SELECT username FROM channels")["username"] == "wire"


def test_max_posts_stores_the_first_posts_of_the_file_and_moves_the_mark_over_them(
    ctx: JobContext, db: Database
) -> None:
    rawlog = RawLog(db, pipeline_version="v1")
    export_import.import_export(ctx, rawlog, EXPORTS / "service.json", max_posts=1)
    assert count(db, "SELECT count(*) AS n FROM raw_messages") == 1
    assert one(db, "SELECT last_message_id FROM channels")["last_message_id"] == 3
    assert ctx.counts["posts"] == 1
