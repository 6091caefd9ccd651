"""New SQLite databases for Prefect and MLflow made from snapshots of what their own
migrations make, instead of running those migrations on a user's first run.

A Prefect server on a new ``PREFECT_HOME`` first runs Prefect's 116 alembic migrations on
its database (≈ 5.5 s of CPU on this project's 2-core machine, on the critical path of a
first run), and MLflow runs its 69 on a new store (≈ 0.8 s). The databases those
migrations make hold tables, indexes and a row or two, so their SQL dump replays them in
milliseconds. Before tuneflows starts a Prefect server on a database file that does not
exist yet, or opens a new ``sqlite:///`` MLflow store, it writes the file from the
snapshot in ``tuneflows/services/sql_snapshots/`` (``<project>-<revision>.sql``, named by
the alembic revision it is at):

- Prefect's server then runs Prefect's migrations as always: they find the database at
  the snapshot's revision and apply only the revisions a newer Prefect added after it. A
  Prefect that does not have the snapshot's revision makes its database itself.
- MLflow does not migrate an existing store (it asks for ``mlflow db upgrade``), so its
  snapshot is used only when it is at the installed MLflow's head revision. MLflow itself
  adds the ``Default`` experiment (its artifact location is the store's), as it does on a
  store its migrations made.

``tests/integration/test_schema_snapshots.py`` checks that a database made this way is
the one the project's own migrations make from nothing (every table, index, row and
pragma), after Prefect's migrations or MLflow's store have opened it. After an upgrade of
either, ``python -m tuneflows.services.schema_snapshots`` writes new snapshots.

Example:
    >>> import os, tempfile
    >>> database = os.path.join(tempfile.mkdtemp(), "prefect.db")
    >>> PREFECT.create(database)  # the installed Prefect has the snapshot's revision
    True
    >>> PREFECT.create(database)  # an existing database is never touched
    False
"""

from __future__ import annotations

import ast
import glob
import importlib.util
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Optional

SNAPSHOT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sql_snapshots")
MIGRATE_TIMEOUT = 300.0  # seconds for a project's own migration of a new database
_REVISION = re.compile(r"^revision\s*(?::[^=]*)?=\s*(.+)$", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*(?::[^=]*)?=\s*(.+)$", re.MULTILINE)


def migration_graph(migrations_dir: str) -> dict[str, tuple[str, ...]]:
    """Each alembic revision in ``migrations_dir`` and the revisions it follows, read from
    the migration files' ``revision`` and ``down_revision`` lines (nothing is imported).

    Example:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> for name, text in {"a.py": 'revision = "a1"\\ndown_revision = None\\n',
        ...                    "b.py": 'revision = "b2"\\ndown_revision = "a1"\\n'}.items():
        ...     _ = open(os.path.join(folder, name), "w").write(text)
        >>> migration_graph(folder)
        {'a1': (), 'b2': ('a1',)}
    """
    graph = {}
    for path in sorted(glob.glob(os.path.join(migrations_dir, "*.py"))):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        revision, down = _REVISION.search(text), _DOWN_REVISION.search(text)
        if revision is None or down is None:
            continue
        try:
            follows = ast.literal_eval(down.group(1).strip())
            graph[ast.literal_eval(revision.group(1).strip())] = (
                () if follows is None else (follows,) if isinstance(follows, str) else tuple(follows))
        except (ValueError, SyntaxError):
            continue
    return graph


def head_revision(migrations_dir: str) -> Optional[str]:
    """The one revision no other follows (None: none, or several heads)."""
    graph = migration_graph(migrations_dir)
    heads = set(graph) - {down for downs in graph.values() for down in downs}
    return heads.pop() if len(heads) == 1 else None


@dataclass(frozen=True)
class SchemaSnapshot:
    """One project's snapshot: where its migrations are and when a snapshot fits.

    Attributes:
        project: The installed package (``"prefect"``, ``"mlflow"``), also the snapshot
            file's prefix.
        migrations: The path of its SQLite migration files inside the package.
        head_only: Only a snapshot at the installed head revision fits (the project does
            not migrate a database it did not make at start).
    """

    project: str
    migrations: tuple[str, ...]
    head_only: bool

    def migrations_dir(self) -> Optional[str]:
        """The installed project's migration files, found without importing it."""
        spec = importlib.util.find_spec(self.project)
        if spec is None or not spec.submodule_search_locations:
            return None
        path = os.path.join(spec.submodule_search_locations[0], *self.migrations)
        return path if os.path.isdir(path) else None

    def usable(self, migrations_dir: Optional[str] = None) -> Optional[str]:
        """The shipped snapshot that fits the installed project, or None.

        Args:
            migrations_dir: The project's migration files (default: the installed ones).
        """
        migrations_dir = migrations_dir or self.migrations_dir()
        if migrations_dir is None:
            return None
        graph = migration_graph(migrations_dir)
        fits = {head_revision(migrations_dir)} if self.head_only else set(graph)
        for snapshot in sorted(glob.glob(os.path.join(SNAPSHOT_DIR, f"{self.project}-*.sql"))):
            if os.path.basename(snapshot)[len(self.project) + 1:-len(".sql")] in fits:
                return snapshot
        return None

    def create(self, database: str, migrations_dir: Optional[str] = None) -> bool:
        """Writes a new SQLite ``database`` from the snapshot that fits, in WAL mode and
        atomically: a half-made file is never left under its name, and a file another
        process made meanwhile is kept (the new one is linked in only where none is).

        Args:
            database: The path of the database file the project will open.
            migrations_dir: The project's migration files (default: the installed ones).

        Returns:
            Whether it was made; False when it exists or no snapshot fits (the project's
            migrations then make it).
        """
        if os.path.exists(database):
            return False
        snapshot = self.usable(migrations_dir)
        if snapshot is None:
            return False
        with open(snapshot, encoding="utf-8") as f:
            script = f.read()
        directory = os.path.dirname(os.path.abspath(database))
        os.makedirs(directory, exist_ok=True)
        handle, partial = tempfile.mkstemp(prefix=f".{self.project}-db-", dir=directory)
        os.close(handle)
        try:
            connection = sqlite3.connect(partial)
            try:
                connection.executescript(script)
                connection.execute("PRAGMA journal_mode=WAL")
            finally:
                connection.close()
            os.link(partial, database)
        except FileExistsError:
            return False
        finally:
            os.remove(partial)
        return True


PREFECT = SchemaSnapshot("prefect", ("server", "database", "_migrations", "versions", "sqlite"),
                         head_only=False)
MLFLOW = SchemaSnapshot("mlflow", ("store", "db_migrations", "versions"), head_only=True)


def _child_env(**settings: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PREFECT_API_", "PREFECT_SERVER_DATABASE", "PREFECT_PROFILE",
                                  "MLFLOW_TRACKING"))}
    env.update(settings)
    return env


def _run(command: list[str], env: dict[str, str], cwd: str, timeout: float) -> None:
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")


def migrate_with_prefect(home: str, timeout: float = MIGRATE_TIMEOUT) -> str:
    """Runs Prefect's own migrations (``prefect server database upgrade -y``) on the
    database of ``PREFECT_HOME=home``, in a child process, and returns its path.

    Raises:
        RuntimeError: Prefect's command failed (its output is in the message).
    """
    os.makedirs(home, exist_ok=True)
    _run([sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"],
         _child_env(PREFECT_HOME=home), home, timeout)
    return os.path.join(home, "prefect.db")


def open_with_mlflow(database: str, timeout: float = MIGRATE_TIMEOUT) -> str:
    """Opens the ``sqlite:///`` store ``database`` with MLflow's client in a child process
    (MLflow migrates a new store and adds its ``Default`` experiment) and returns its path.

    Raises:
        RuntimeError: MLflow failed (its output is in the message).
    """
    directory = os.path.dirname(os.path.abspath(database))
    os.makedirs(directory, exist_ok=True)
    _run([sys.executable, "-c", "import sys; from mlflow.tracking import MlflowClient; "
          "MlflowClient(sys.argv[1]).search_experiments()", f"sqlite:///{database}"],
         _child_env(), directory, timeout)
    return database


def write_snapshots(directory: str = SNAPSHOT_DIR) -> list[str]:
    """Makes new databases with the installed Prefect's and MLflow's own migrations and
    writes their SQL dumps to ``directory/<project>-<revision>.sql`` (without MLflow's
    ``Default`` experiment, which MLflow adds to each store itself).

    Returns:
        The snapshots' paths.
    """
    with tempfile.TemporaryDirectory() as scratch:
        made = {"prefect": migrate_with_prefect(os.path.join(scratch, "prefect")),
                "mlflow": open_with_mlflow(os.path.join(scratch, "mlflow", "mlflow.db"))}
        paths = []
        for project, database in made.items():
            connection = sqlite3.connect(database)
            try:
                (revision,), = connection.execute("SELECT version_num FROM alembic_version")
                dump = [line for line in connection.iterdump()
                        if not line.startswith('INSERT INTO "experiments"')]
            finally:
                connection.close()
            paths.append(os.path.join(directory, f"{project}-{revision}.sql"))
            with open(paths[-1], "w", encoding="utf-8") as f:
                f.write("\n".join(dump) + "\n")
    return paths


if __name__ == "__main__":
    print("\n".join(write_snapshots()))
