"""A new local Prefect database made from a snapshot of what Prefect's migrations make.

A Prefect server on a new ``PREFECT_HOME`` first runs Prefect's 116 alembic migrations on
its SQLite database: ≈ 5.5 s of CPU on this project's 2-core machine, on the critical
path of a user's first run. The database those migrations make holds tables and indexes
and one row (``alembic_version``), so its SQL dump replays it in milliseconds. Before
tuneflows launches a server on a database file that does not exist yet, it writes the
database from the snapshot shipped in ``tuneflows/services/prefect_schema/`` (named by the
alembic revision it is at); the server then runs Prefect's migrations as always, which
find the database at that revision and apply only the revisions a newer Prefect added
after it. A snapshot whose revision the installed Prefect does not know is not used:
Prefect then makes the database itself, as without tuneflows.

``tests/integration/test_prefect_schema_snapshot.py`` checks that a database made this
way, once Prefect's migrations have run on it, is the one Prefect's migrations make from
nothing (every table, index, row and pragma). After a Prefect upgrade,
``python -m tuneflows.services.prefect_schema_snapshot`` writes a new snapshot with that
Prefect's migrations.

Example:
    >>> import os, tempfile
    >>> database = os.path.join(tempfile.mkdtemp(), "prefect.db")
    >>> create_from_snapshot(database)  # the installed Prefect knows the snapshot's revision
    True
    >>> create_from_snapshot(database)  # an existing database is never touched
    False
"""

from __future__ import annotations

import glob
import importlib.util
import os
import sqlite3
import subprocess
import sys
import tempfile
from typing import Optional

SNAPSHOT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "prefect_schema")
MIGRATE_TIMEOUT = 300.0  # seconds for Prefect's own migration of a new database


def prefect_migrations_dir() -> Optional[str]:
    """The directory of the installed Prefect's SQLite migrations, found without importing
    Prefect (None: Prefect is not installed, or keeps them elsewhere)."""
    spec = importlib.util.find_spec("prefect")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(spec.submodule_search_locations[0], "server", "database",
                        "_migrations", "versions", "sqlite")
    return path if os.path.isdir(path) else None


def usable_snapshot(migrations_dir: Optional[str] = None) -> Optional[str]:
    """The shipped snapshot at a revision the installed Prefect has (its migration file
    ``<date>_<revision>_<name>.py`` exists), or None.

    Args:
        migrations_dir: Prefect's SQLite migrations (default: the installed Prefect's).
    """
    migrations_dir = migrations_dir or prefect_migrations_dir()
    if migrations_dir is None:
        return None
    for snapshot in sorted(glob.glob(os.path.join(SNAPSHOT_DIR, "*.sql")), reverse=True):
        revision = os.path.splitext(os.path.basename(snapshot))[0]
        if glob.glob(os.path.join(migrations_dir, f"*_{revision}_*.py")):
            return snapshot
    return None


def create_from_snapshot(database: str, migrations_dir: Optional[str] = None) -> bool:
    """Writes a new SQLite ``database`` from the usable snapshot (atomically: a half-made
    file is never left under its name).

    Args:
        database: The path of the database file Prefect's server will open.
        migrations_dir: Prefect's SQLite migrations (default: the installed Prefect's).

    Returns:
        Whether the database was made; False when it exists already or no snapshot is
        usable (Prefect's migrations then make it).
    """
    snapshot = usable_snapshot(migrations_dir)
    if snapshot is None or os.path.exists(database):
        return False
    with open(snapshot, encoding="utf-8") as f:
        script = f.read()
    directory = os.path.dirname(database) or "."
    os.makedirs(directory, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix=".prefect-db-", dir=directory)
    os.close(handle)
    try:
        connection = sqlite3.connect(partial)
        try:
            connection.executescript(script)
            connection.execute("PRAGMA journal_mode=WAL")  # as Prefect's server sets it
        finally:
            connection.close()
        os.replace(partial, database)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return True


def migrate_with_prefect(home: str, timeout: float = MIGRATE_TIMEOUT) -> str:
    """Runs Prefect's own migrations (``prefect server database upgrade -y``) on the
    database of ``PREFECT_HOME=home``, in a child process.

    Returns:
        The database's path.

    Raises:
        RuntimeError: Prefect's command failed (its output is in the message).
    """
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PREFECT_API_", "PREFECT_SERVER_DATABASE", "PREFECT_PROFILE"))}
    env["PREFECT_HOME"] = home
    os.makedirs(home, exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "prefect", "server", "database", "upgrade",
                           "-y"], env=env, cwd=home, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"prefect server database upgrade failed:\n{done.stdout}{done.stderr}")
    return os.path.join(home, "prefect.db")


def write_snapshot(directory: str = SNAPSHOT_DIR) -> str:
    """Migrates a new database with the installed Prefect and writes its SQL dump to
    ``directory/<revision>.sql``.

    Returns:
        The snapshot's path.
    """
    with tempfile.TemporaryDirectory() as home:
        connection = sqlite3.connect(migrate_with_prefect(home))
        try:
            (revision,), = connection.execute("SELECT version_num FROM alembic_version")
            dump = "\n".join(connection.iterdump()) + "\n"
        finally:
            connection.close()
    path = os.path.join(directory, f"{revision}.sql")
    with open(path, "w", encoding="utf-8") as f:
        f.write(dump)
    return path


if __name__ == "__main__":
    print(write_snapshot())
