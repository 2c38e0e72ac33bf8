from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from civicquant import migrations
from civicquant.db import Database

ROOT = Path(__file__).resolve().parents[2]


def test_all_migrations_apply_to_an_empty_database(empty_database_url: str) -> None:
    with Database.connect(empty_database_url) as db:
        assert [m.version for m in migrations.pending(db)] == [
            m.version for m in migrations.available()
        ]
        applied = migrations.migrate(db)
        assert [m.version for m in applied] == [m.version for m in migrations.available()]
        assert migrations.pending(db) == []
        tables = {
            row["table_name"]
            for row in db.connection.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            ).fetchall()
        }
    assert {"schema_migrations", "leases", "job_runs"} <= tables


def test_migrate_twice_applies_nothing_the_second_time(empty_database_url: str) -> None:
    with Database.connect(empty_database_url) as db:
        migrations.migrate(db)
        assert migrations.migrate(db) == []


def test_concurrent_migrators_apply_each_file_once(empty_database_url: str) -> None:
    code = (
        "import sys\n"
        "from civicquant import migrations\n"
        "from civicquant.db import Database\n"
        "with Database.connect(sys.argv[1]) as db:\n"
        "    print(len(migrations.migrate(db)))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, empty_database_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(4)
    ]
    results = [proc.communicate(timeout=120) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), [err for _, err in results]
    counts = sorted(int(out.strip()) for out, _ in results)
    assert sum(counts) == len(migrations.available())
    with Database.connect(empty_database_url) as db:
        rows = db.fetch_all("applied_migrations")
    assert [row["version"] for row in rows] == [m.version for m in migrations.available()]


def test_status_flags_an_applied_file_that_changed(database_url: str) -> None:
    with Database.connect(database_url) as db:
        db.connection.execute("UPDATE schema_migrations SET checksum = 'x' WHERE version = '0001'")
        states = {state.version: state for state in migrations.status(db)}
    assert states["0001"].changed is True
