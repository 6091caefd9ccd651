"""A Prefect database made from tuneflows' snapshot is the one Prefect's own migrations
make, once those migrations have run on it (as the server runs them at start), and a
server on a new PREFECT_HOME starts on it and works."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import urllib.request

import pytest

from tuneflows.services import local_prefect_server
from tuneflows.services.prefect_schema_snapshot import (create_from_snapshot,
                                                        migrate_with_prefect, usable_snapshot)

pytestmark = pytest.mark.integration


def schema_of(database: str) -> dict:
    """Every table's columns in order, its definition's lines in any order (Prefect's own
    migrations write a table's constraints in a different order from one run to the next),
    every index's definition, every row, and the file's pragmas."""
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
                entry["columns"] = connection.execute(f'PRAGMA table_info("{name}")').fetchall()
                entry["rows"] = sorted(connection.execute(f'SELECT * FROM "{name}"').fetchall(),
                                       key=repr)
            schema[f"{kind} {name}"] = entry
    return schema


def test_the_snapshot_migrated_by_prefect_is_what_prefect_makes_from_nothing(tmp_path):
    assert usable_snapshot() is not None, "no snapshot matches the installed Prefect"
    by_prefect = migrate_with_prefect(str(tmp_path / "by-prefect"))
    from_snapshot = str(tmp_path / "from-snapshot" / "prefect.db")
    assert create_from_snapshot(from_snapshot)
    assert migrate_with_prefect(str(tmp_path / "from-snapshot")) == from_snapshot
    expected, made = schema_of(by_prefect), schema_of(from_snapshot)
    assert sorted(made) == sorted(expected)
    assert [key for key in expected if made[key] != expected[key]] == []
    assert len([key for key in expected if key.startswith("table ")]) > 30


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
        assert os.path.basename(usable_snapshot()) == f"{revision}.sql"
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
