"""Writes whole trial runs into a SQL-backed MLflow store, many in one transaction.

Why this exists: a one-result trial written through ``MlflowClient`` costs three calls
(``create_run``, one ``log_batch``, ``set_terminated``), and MLflow's public client alone
spends 15-21 ms of CPU on them on a WAL SQLite store (cProfile: ≈14 SQLAlchemy ORM
sessions a trial; ``get_experiment`` inside ``create_run`` ≈3 ms, ``_log_metrics`` with
``latest_metrics`` ≈4 ms, ``update_run_info`` ≈3.5 ms). Tiny trials spent more CPU in
the MLflow writers than in the trial. Here a trial's run row, tags, params, metric
history, latest metrics and end status go in with plain inserts, and every trial a
writer holds shares one transaction (``python -m benchmarks.tiny_trials`` measures it).

What it relies on (MLflow internals, checked against :data:`CHECKED_MLFLOW`):

- ``MlflowClient._tracking_client.store`` is a
  ``mlflow.store.tracking.sqlalchemy_store.SqlAlchemyStore`` (the embedded ``sqlite:///``
  store and any database URI), with ``ManagedSessionMaker`` (a committing session) and
  ``sanitize_metric_value`` (NaN and ±inf as MLflow stores them);
- the tables of ``mlflow.store.tracking.dbmodels.models`` (``SqlRun``, ``SqlTag``,
  ``SqlParam``, ``SqlMetric``, ``SqlLatestMetric``, ``SqlExperiment``) with exactly the
  columns of :data:`CHECKED_COLUMNS`, and a store at an alembic revision of
  :data:`CHECKED_REVISIONS`;
- ``mlflow.utils.validation``'s ``_validate_metric``, ``_validate_param`` and
  ``_validate_tag`` (what ``log_batch`` rejects or truncates);
- what ``SqlAlchemyStore.create_run`` fills in (source fields, ``user_id``
  ``"unknown"``, ``artifact_uri`` = experiment location + run id + ``artifacts``).

Any other MLflow (a new migration or a changed model) gets no bulk writer
(:func:`bulk_writer_for` returns None) and every run goes through ``MlflowClient``.
``tests/integration/test_bulk_runs.py`` checks that a run written here reads back
through ``MlflowClient`` exactly as one written call by call.

Example:
    >>> run = NewRun("0" * 32, "trial_1", {"tuneflows.trial_id": "1"}, 1000)
    >>> run.add_rows([(1, 1005, {"loss": 0.5})]); run.end("FINISHED", 1010)
    >>> run.ended, len(run.metrics)
    (True, 1)
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

from tuneflows.recording.mlflow.values import MetricRow

logger = logging.getLogger(__name__)

#: The MLflow releases whose internals this module was checked against.
CHECKED_MLFLOW = (">=3.17", "<3.18")
#: Alembic revisions (the ``alembic_version`` of a store) whose tables it writes.
CHECKED_REVISIONS = frozenset({"dc11669786a5"})
#: The columns of each table it writes or reads, as MLflow's models define them.
CHECKED_COLUMNS: Mapping[str, frozenset] = {
    "runs": frozenset({"artifact_uri", "deleted_time", "end_time", "entry_point_name",
                       "experiment_id", "lifecycle_stage", "name", "run_uuid", "source_name",
                       "source_type", "source_version", "start_time", "status", "user_id"}),
    "tags": frozenset({"key", "run_uuid", "value"}),
    "params": frozenset({"key", "run_uuid", "value"}),
    "metrics": frozenset({"is_nan", "key", "run_uuid", "step", "timestamp", "value"}),
    "latest_metrics": frozenset({"is_nan", "key", "run_uuid", "step", "timestamp", "value"}),
    "experiments": frozenset({"artifact_location", "creation_time", "experiment_id",
                              "last_update_time", "lifecycle_stage", "name", "workspace"}),
}


def new_run_id() -> str:
    """A run id as MLflow makes one (32 hex digits)."""
    return uuid.uuid4().hex


@dataclass
class NewRun:
    """A trial run not yet in the store: what its creation, writes and end hold.

    Attributes:
        run_id: Its id (chosen here, reported to the driver at once).
        run_name: Its name (also its ``mlflow.runName`` tag).
        tags: Its tags (creation tags, then later ones over them).
        start_time_ms: When it started.
        params: Its params (the first value of a key is kept, as MLflow keeps it).
        metrics: ``(key, value, timestamp, step)`` in logging order.
        status: Its MLflow status once ended (RUNNING until then).
        end_time_ms: When it ended.
        files: Files to copy into its artifacts once it is written.
    """

    run_id: str
    run_name: str
    tags: dict[str, str]
    start_time_ms: int
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[tuple[str, float, int, int]] = field(default_factory=list)
    status: str = "RUNNING"
    end_time_ms: Optional[int] = None
    files: list[str] = field(default_factory=list)

    @property
    def ended(self) -> bool:
        """It has an end status."""
        return self.end_time_ms is not None

    def add_rows(self, rows: Sequence[MetricRow]) -> None:
        """Adds metric rows ``(step, timestamp, values)``."""
        self.metrics.extend((k, v, stamp, step) for step, stamp, values in rows
                            for k, v in values.items())

    def add_params(self, params: Mapping[str, str]) -> None:
        """Adds params; a key it holds keeps its first value."""
        for key, value in params.items():
            self.params.setdefault(key, value)

    def end(self, status: str, end_time_ms: int) -> None:
        """Ends it with MLflow status ``status`` at ``end_time_ms``."""
        self.status, self.end_time_ms = status, end_time_ms


def schema_problem(store: Any, revisions: Optional[frozenset] = None,
                   columns: Optional[Mapping[str, frozenset]] = None) -> Optional[str]:
    """Why the bulk writer must not write to ``store`` (None: it may).

    Args:
        store: An MLflow tracking store.
        revisions: The alembic revisions it was checked against (default
            :data:`CHECKED_REVISIONS`).
        columns: The model columns it was checked against (default
            :data:`CHECKED_COLUMNS`).
    """
    revisions = CHECKED_REVISIONS if revisions is None else revisions
    columns = CHECKED_COLUMNS if columns is None else columns
    try:
        import sqlalchemy
        from mlflow.store.tracking.dbmodels import models
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    except ImportError as exc:
        return f"MLflow's SQL models cannot be imported ({exc})"
    if not isinstance(store, SqlAlchemyStore):
        return f"{type(store).__name__} is not MLflow's SqlAlchemyStore"
    tables = {model.__tablename__: model for model in (
        models.SqlRun, models.SqlTag, models.SqlParam, models.SqlMetric,
        models.SqlLatestMetric, models.SqlExperiment)}
    for name, expected in columns.items():
        found = frozenset(c.name for c in tables[name].__table__.columns) if name in tables \
            else frozenset()
        if found != expected:
            return f"MLflow's {name!r} table has columns {sorted(found)}, not {sorted(expected)}"
    with store.ManagedSessionMaker() as session:
        revision = session.execute(
            sqlalchemy.text("SELECT version_num FROM alembic_version")).scalar()
    if revision not in revisions:
        return f"the store's schema revision {revision!r} is not one of {sorted(revisions)}"
    return None


def bulk_writer_for(client: Any, experiment_id: str) -> Optional["BulkRunWriter"]:
    """A bulk writer for ``client``'s store, or None when it has none (not SQL-backed,
    or an MLflow this module was not checked against: the reason is logged)."""
    store = getattr(getattr(client, "_tracking_client", None), "store", None)
    problem = schema_problem(store)
    if problem is not None:
        logger.info("MLflow runs are written call by call: %s.", problem)
        return None
    return BulkRunWriter(store, experiment_id)


class BulkRunWriter:
    """Inserts :class:`NewRun` records into one SqlAlchemyStore experiment.

    Args:
        store: The store (checked with :func:`schema_problem`).
        experiment_id: The MLflow experiment the runs belong to.
    """

    def __init__(self, store: Any, experiment_id: str) -> None:
        self._store = store
        self._experiment_id = experiment_id

    def write(self, runs: Sequence[NewRun]) -> None:
        """Writes ``runs`` in one transaction (all or none). A value MLflow's
        ``log_batch`` would reject is dropped with a warning; the rest is kept.

        Raises:
            MlflowException: The experiment is gone or not active.
        """
        import sqlalchemy
        from mlflow.exceptions import MlflowException
        from mlflow.store.tracking.dbmodels import models
        from mlflow.utils.uri import append_to_uri_path

        tables = {"runs": [], "tags": [], "params": [], "metrics": [], "latest_metrics": []}
        with self._store.ManagedSessionMaker(read_only=False) as session:
            found = session.execute(
                sqlalchemy.select(models.SqlExperiment.artifact_location,
                                  models.SqlExperiment.lifecycle_stage)
                .where(models.SqlExperiment.experiment_id == int(self._experiment_id))).first()
            if found is None or found[1] != "active":
                raise MlflowException(f"Experiment {self._experiment_id} is not active.",
                                      "INVALID_STATE")
            for run in runs:
                self._rows_of(run, append_to_uri_path(found[0], run.run_id, "artifacts"),
                              tables)
            for model in (models.SqlRun, models.SqlTag, models.SqlParam, models.SqlMetric,
                          models.SqlLatestMetric):
                rows = tables[model.__tablename__]
                if rows:
                    session.execute(sqlalchemy.insert(model.__table__), rows)

    def _rows_of(self, run: NewRun, artifact_uri: str, tables: dict[str, list]) -> None:
        """Adds one run's rows to ``tables``, as ``create_run``, ``log_batch`` and
        ``set_terminated`` would write them."""
        from mlflow.utils.validation import _validate_metric, _validate_param, _validate_tag

        run_id = run.run_id
        tables["runs"].append({
            "run_uuid": run_id, "name": run.run_name, "artifact_uri": artifact_uri,
            "experiment_id": int(self._experiment_id), "source_type": "UNKNOWN",
            "source_name": "", "entry_point_name": "",
            "user_id": run.tags.get("mlflow.user", "unknown"), "status": run.status,
            "start_time": run.start_time_ms, "end_time": run.end_time_ms,
            "deleted_time": None, "source_version": "", "lifecycle_stage": "active"})
        tags = {}
        for key, value in run.tags.items():
            ok, checked = _valid(run_id, "tag", key, _validate_tag, key, value)
            if ok:
                tags[checked.key] = checked.value
        name = tags.setdefault("mlflow.runName", run.run_name)  # a later tag renames it
        tables["runs"][-1]["name"] = name
        tables["tags"].extend({"run_uuid": run_id, "key": k, "value": v} for k, v in tags.items())
        for key, value in run.params.items():
            ok, checked = _valid(run_id, "param", key, _validate_param, key, value)
            if ok:
                tables["params"].append({"run_uuid": run_id, "key": checked.key,
                                         "value": checked.value})
        seen: set[tuple] = set()
        latest: dict[str, tuple] = {}
        for key, value, stamp, step in run.metrics:
            if not _valid(run_id, "metric", key, _validate_metric, key, value, stamp, step)[0]:
                continue
            is_nan, stored = self._store.sanitize_metric_value(value)
            row = (key, stored, stamp, step, is_nan)
            if row in seen:
                continue
            seen.add(row)
            tables["metrics"].append({"run_uuid": run_id, "key": key, "value": stored,
                                      "timestamp": stamp, "step": step, "is_nan": is_nan})
            held = latest.get(key)
            if held is None or (step, stamp, stored) > (held[3], held[2], held[1]):
                latest[key] = row
        tables["latest_metrics"].extend(
            {"run_uuid": run_id, "key": k, "value": v, "timestamp": t, "step": s, "is_nan": n}
            for k, v, t, s, n in latest.values())


def _valid(run_id: str, kind: str, key: str, validate: Any, *args: Any) -> tuple[bool, Any]:
    """``(True, validate(*args))``, or ``(False, None)`` (logged) when MLflow rejects it."""
    from mlflow.exceptions import MlflowException

    try:
        return True, validate(*args)
    except MlflowException as exc:
        logger.warning("MLflow rejected %s %r of run %s, which is dropped (the rest of its "
                       "records are kept): %s", kind, key, run_id, exc.message)
        return False, None
