"""Databases made from tuneflows' snapshots are the ones Prefect's and MLflow's own
migrations make, once the project has opened them (Prefect's server runs its migrations
at start; MLflow's store adds its Default experiment), and a Prefect server on a new
PREFECT_HOME and an MLflow store in a new results directory start on them and work."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import urllib.request

import pytest

from tuneflows.recording.mlflow.store import MlflowStore, use_write_ahead_log
from tuneflows.services import local_prefect_server
from tuneflows.services.schema_snapshots import (MLFLOW, PREFECT, migrate_with_prefect,
                                                 open_with_mlflow)

pytestmark = pytest.mark.integration


def schema_of(database: str, ignore: tuple[str, ...] = ()) -> dict:
    """Every table's columns in order, its definition's lines in any order (Prefect's own
    migrations write a table's constraints in a different order from one run to the next),
    every index, every row (the columns in ``ignore``, ``table.column``, left out), and
    the file's pragmas."""
    with sqlite3.connect(database) as connection:
        objects = connection.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        schema = {"pragmas": [connection.execute(f"PRAGMA {name}").fetchall() for name in
                              ("user_version", "application_id", "encoding", "page_size",
                               "journal_mode", "auto_vacuum")]}
        for kind, name, table, sql in objects:
            lines = sorted(line.strip().rstrip(",").strip() for line in (sql or "").splitlines())
            entry = {"table": table, "lines": lines}
            if kind == "table":
                columns = connection.execute(f'PRAGMA table_info("{name}")').fetchall()
                kept = [c[1] for c in columns if f"{name}.{c[1]}" not in ignore]
                entry["columns"] = columns
                entry["rows"] = sorted(connection.execute(
                    f'SELECT {", ".join(f"{chr(34)}{c}{chr(34)}" for c in kept)} FROM "{name}"'
                ).fetchall(), key=repr)
            schema[f"{kind} {name}"] = entry
    return schema


def differences(made: dict, expected: dict) -> list[str]:
    return sorted(set(made) ^ set(expected)) + [
        key for key in expected if key in made and made[key] != expected[key]]


def test_prefect_s_snapshot_migrated_by_prefect_is_what_prefect_makes_from_nothing(tmp_path):
    by_prefect = migrate_with_prefect(str(tmp_path / "by-prefect"))
    from_snapshot = str(tmp_path / "from-snapshot" / "prefect.db")
    assert PREFECT.create(from_snapshot)
    assert migrate_with_prefect(str(tmp_path / "from-snapshot")) == from_snapshot
    expected = schema_of(by_prefect)
    assert differences(schema_of(from_snapshot), expected) == []
    assert len([key for key in expected if key.startswith("table ")]) > 30


def test_mlflow_s_snapshot_opened_by_mlflow_is_what_mlflow_makes_from_nothing(tmp_path):
    by_mlflow = open_with_mlflow(str(tmp_path / "by-mlflow" / "mlflow.db"))
    use_write_ahead_log(f"sqlite:///{by_mlflow}")  # as tuneflows sets every store it opens
    from_snapshot = str(tmp_path / "from-snapshot" / "mlflow.db")
    assert MLFLOW.create(from_snapshot)
    open_with_mlflow(from_snapshot)
    # The Default experiment MLflow adds: its times are now, its location the store's folder.
    ignore = ("experiments.creation_time", "experiments.last_update_time",
              "experiments.artifact_location")
    expected = schema_of(by_mlflow, ignore)
    assert differences(schema_of(from_snapshot, ignore), expected) == []
    assert expected["table experiments"]["rows"] == [(0, "Default", "active", "default")]
    with sqlite3.connect(from_snapshot) as connection:
        (location,), = connection.execute("SELECT artifact_location FROM experiments")
    assert location.startswith(str(tmp_path / "from-snapshot"))


def test_a_new_results_directory_s_store_is_made_from_the_snapshot_and_records(tmp_path):
    store = MlflowStore("snapshot-made", str(tmp_path / "results"))
    with sqlite3.connect(str(tmp_path / "results" / "mlflow.db")) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchone() == (
            os.path.basename(MLFLOW.usable())[len("mlflow-"):-len(".sql")],)
    parent = store.open_experiment("exp-1", "run", tags={})
    run_id = store.create_trial_run("trial_0", "trial_0", tags={})
    store.write("trial_0", [(1, 1_700_000_000_000, {"score": 0.5})], {"lr": "0.1"})
    store.terminate_trial("trial_0", "TERMINATED")
    run = store.client.get_run(run_id)
    assert run.data.metrics == {"score": 0.5} and run.data.params == {"lr": "0.1"}
    assert run.data.tags["mlflow.parentRunId"] == parent and run.info.status == "FINISHED"
    assert [e.name for e in store.client.search_experiments()] == ["snapshot-made", "Default"]


def test_a_server_on_a_new_home_starts_on_the_snapshot_and_serves_the_api(tmp_path):
    home = str(tmp_path / "prefect-home")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    try:
        server, started = local_prefect_server.ensure_server(home, timeout=180, port=port)
        assert started
        with sqlite3.connect(os.path.join(home, "prefect.db")) as connection:
            (revision,), = connection.execute("SELECT version_num FROM alembic_version")
        assert os.path.basename(PREFECT.usable()) == f"prefect-{revision}.sql"
        request = urllib.request.Request(f"{server.api_url}/block_types/filter", data=b"{}",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            block_types = json.load(response)
        assert len(block_types) > 5  # Prefect registered its block types at start, as always
        request = urllib.request.Request(f"{server.api_url}/flows/", method="POST",
                                         data=json.dumps({"name": "made-on-snapshot"}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert json.load(response)["name"] == "made-on-snapshot"
    finally:
        local_prefect_server.stop_server(home)
