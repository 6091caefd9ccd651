"""Which snapshot of Prefect's schema a new database is made from, and when none is."""

from __future__ import annotations

import os
import sqlite3

from tuneflows.services import prefect_schema_snapshot as snapshots


def shipped_revision() -> str:
    (name,) = [n for n in os.listdir(snapshots.SNAPSHOT_DIR) if n.endswith(".sql")]
    return name.removesuffix(".sql")


def migrations(tmp_path, *revisions: str) -> str:
    directory = tmp_path / "sqlite"
    directory.mkdir()
    for number, revision in enumerate(revisions):
        (directory / f"2026_01_0{number}_000000_{revision}_change.py").write_text(
            f'revision = "{revision}"\n')
    return str(directory)


def test_the_snapshot_is_used_when_the_installed_prefect_has_its_revision(tmp_path):
    newer_prefect = migrations(tmp_path, "aaaa1111bbbb", shipped_revision(), "cccc2222dddd")
    assert snapshots.usable_snapshot(newer_prefect) == os.path.join(
        snapshots.SNAPSHOT_DIR, f"{shipped_revision()}.sql")
    database = str(tmp_path / "home" / "prefect.db")
    assert snapshots.create_from_snapshot(database, newer_prefect)
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (shipped_revision(),)]
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        tables = {name for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"flow", "flow_run", "task_run", "deployment", "block_type"} <= tables
    assert [n for n in os.listdir(tmp_path / "home") if n.startswith(".prefect-db-")] == []


def test_a_prefect_without_the_revision_makes_its_database_itself(tmp_path):
    other_prefect = migrations(tmp_path, "aaaa1111bbbb")
    database = str(tmp_path / "prefect.db")
    assert snapshots.usable_snapshot(other_prefect) is None
    assert not snapshots.create_from_snapshot(database, other_prefect)
    assert not os.path.exists(database)


def test_an_existing_database_is_never_touched(tmp_path):
    database = tmp_path / "prefect.db"
    database.write_bytes(b"a user's database")
    assert not snapshots.create_from_snapshot(str(database),
                                              migrations(tmp_path, shipped_revision()))
    assert database.read_bytes() == b"a user's database"


def test_the_installed_prefects_migrations_are_found_without_importing_prefect():
    directory = snapshots.prefect_migrations_dir()
    assert directory is not None and directory.endswith(os.path.join("versions", "sqlite"))
    assert any(name.endswith(".py") for name in os.listdir(directory))
