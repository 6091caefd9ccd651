"""Which snapshot a new Prefect or MLflow database is made from, and when none is."""

from __future__ import annotations

import os
import sqlite3

import pytest

from tuneflows.services.schema_snapshots import (MLFLOW, PREFECT, SNAPSHOT_DIR, head_revision,
                                                 migration_graph)


def shipped_revision(project: str) -> str:
    (name,) = [n for n in os.listdir(SNAPSHOT_DIR) if n.startswith(f"{project}-")]
    return name.removeprefix(f"{project}-").removesuffix(".sql")


def migrations(tmp_path, *revisions: str) -> str:
    """A migrations folder whose revisions follow each other in the order given."""
    directory = tmp_path / "versions"
    directory.mkdir()
    down = None
    for number, revision in enumerate(revisions):
        (directory / f"2026_01_0{number}_{revision}_change.py").write_text(
            f'"""A change."""\nrevision = "{revision}"\ndown_revision = {down!r}\n')
        down = revision
    return str(directory)


def test_prefect_s_snapshot_serves_a_newer_prefect_that_has_its_revision(tmp_path):
    newer_prefect = migrations(tmp_path, "aaaa1111bbbb", shipped_revision("prefect"),
                               "cccc2222dddd")
    assert PREFECT.usable(newer_prefect) == os.path.join(
        SNAPSHOT_DIR, f"prefect-{shipped_revision('prefect')}.sql")
    database = str(tmp_path / "home" / "prefect.db")
    assert PREFECT.create(database, newer_prefect)
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (shipped_revision("prefect"),)]
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        tables = {name for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"flow", "flow_run", "task_run", "deployment", "block_type"} <= tables
    assert [n for n in os.listdir(tmp_path / "home") if n.startswith(".prefect-db-")] == []


def test_mlflow_s_snapshot_serves_only_the_mlflow_whose_head_it_is(tmp_path):
    revision = shipped_revision("mlflow")
    (tmp_path / "at-head").mkdir()
    at_head = migrations(tmp_path / "at-head", "aaaa1111bbbb", revision)
    assert MLFLOW.usable(at_head) is not None
    (tmp_path / "newer").mkdir()
    newer_mlflow = migrations(tmp_path / "newer", "aaaa1111bbbb", revision, "cccc2222dddd")
    database = str(tmp_path / "mlflow.db")
    assert MLFLOW.usable(newer_mlflow) is None  # MLflow would refuse a store behind its head
    assert not MLFLOW.create(database, newer_mlflow)
    assert not os.path.exists(database)
    assert MLFLOW.create(database, at_head)
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT count(*) FROM experiments").fetchone() == (0,)
        assert connection.execute("SELECT version_num FROM alembic_version").fetchone() == (
            revision,)


@pytest.mark.parametrize("snapshot", [PREFECT, MLFLOW], ids=["prefect", "mlflow"])
def test_a_project_without_the_revision_makes_its_database_itself(tmp_path, snapshot):
    other = migrations(tmp_path, "aaaa1111bbbb")
    database = str(tmp_path / "new.db")
    assert snapshot.usable(other) is None
    assert not snapshot.create(database, other)
    assert not os.path.exists(database)


def test_an_existing_database_is_never_touched(tmp_path):
    database = tmp_path / "prefect.db"
    database.write_bytes(b"a user's database")
    assert not PREFECT.create(str(database), migrations(tmp_path, shipped_revision("prefect")))
    assert database.read_bytes() == b"a user's database"


def test_revisions_merges_and_heads_are_read_from_the_files(tmp_path):
    folder = tmp_path / "versions"
    folder.mkdir()
    files = {"a.py": 'revision = "a"\ndown_revision = None\n',
             "b.py": 'revision: str = "b"\ndown_revision: Union[str, None] = "a"\n',
             "c.py": "revision = 'c'\ndown_revision = 'a'\n",
             "m.py": 'revision = "m"\ndown_revision = ("b", "c")\n',
             "notes.py": "# no revision here\n"}
    for name, text in files.items():
        (folder / name).write_text(text)
    assert migration_graph(str(folder)) == {"a": (), "b": ("a",), "c": ("a",), "m": ("b", "c")}
    assert head_revision(str(folder)) == "m"
    (folder / "m.py").unlink()
    assert head_revision(str(folder)) is None  # two heads: b and c


@pytest.mark.parametrize("snapshot", [PREFECT, MLFLOW], ids=["prefect", "mlflow"])
def test_the_installed_projects_migrations_are_found_and_a_snapshot_fits(snapshot):
    directory = snapshot.migrations_dir()
    assert directory is not None and len(migration_graph(directory)) > 50
    assert snapshot.usable() is not None, f"no shipped snapshot fits the installed {snapshot.project}"


def test_a_database_another_process_made_meanwhile_is_kept(tmp_path, monkeypatch):
    database = tmp_path / "prefect.db"
    link = os.link

    def another_process_first(source, target):
        database.write_bytes(b"made by another driver")  # between the check and the link
        link(source, target)

    monkeypatch.setattr(os, "link", another_process_first)
    assert not PREFECT.create(str(database), migrations(tmp_path, shipped_revision("prefect")))
    assert database.read_bytes() == b"made by another driver"
    assert sorted(os.listdir(tmp_path)) == ["prefect.db", "versions"]  # no half-made file left
