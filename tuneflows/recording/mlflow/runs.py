"""Reading a tuning experiment back from MLflow: its parent runs (one per run of the
experiment, tagged ``tuneflows.experiment_id``), the trial runs nested under one, each
trial's config (from its params) and its metric history.

Read-only and through ``MlflowClient`` (no fluent state). The writer side is
:mod:`tuneflows.recording.mlflow.store`.

Example:
    >>> config_from_params({"lr": "0.1", "net/act": "relu", "net/sizes": "[8, 4]",
    ...                     "bn": "True"})
    {'lr': 0.1, 'net': {'act': 'relu', 'sizes': [8, 4]}, 'bn': True}
"""

from __future__ import annotations

import ast
from typing import Any, Mapping, Optional

from tuneflows.recording.mlflow import tags as mlflow_tags
from tuneflows.recording.mlflow.store import store_creation_lock, tracking_uri_for
from tuneflows.trial import ERROR, RUNNING, TERMINATED

#: Tags of a trial run whose config a scheduler changed (PBT): ``config/<key>``.
CONFIG_TAG_PREFIX = "config/"
#: A trial run's MLflow status, as the trial's status.
TRIAL_STATUS = {"FINISHED": TERMINATED, "FAILED": ERROR}


def tracking_client(tracking_uri: Optional[str] = None, local_dir: Optional[str] = None) -> Any:
    """An ``MlflowClient`` of ``tracking_uri``, else of the store run_experiments
    writes to for ``local_dir`` (``MLFLOW_TRACKING_URI``, else the embedded
    ``<local_dir>/mlflow.db``; ``local_dir`` defaults as the experiments' does).

    MLflow opens (and, if new, creates and migrates) the store when the client is made,
    so a SQLite store is opened under the lock every writer takes: a warm start's read
    and another driver's writers creating the same new store at once left it
    half-migrated (``table dimension_attributes already exists``, seen in CI)."""
    from mlflow.tracking import MlflowClient

    from tuneflows.spec import default_local_dir

    uri = tracking_uri or tracking_uri_for(local_dir or default_local_dir())
    with store_creation_lock(uri):
        return MlflowClient(tracking_uri=uri, registry_uri=uri)


def mlflow_experiment_id(client: Any, experiment_name: str) -> str:
    """The id of MLflow experiment ``experiment_name``.

    Raises:
        ValueError: There is none; the message names the store.
    """
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        raise ValueError(f"The MLflow store {client.tracking_uri!r} has no experiment "
                         f"{experiment_name!r}.")
    return experiment.experiment_id


def parent_runs(client: Any, experiment_name: str) -> list[Any]:
    """The parent runs of experiment ``experiment_name`` (one per run of it), newest first."""
    found, token = [], None
    while True:
        page = client.search_runs(
            [mlflow_experiment_id(client, experiment_name)],
            filter_string=f"tags.`{mlflow_tags.EXPERIMENT_ID}` LIKE '%'",
            order_by=["attributes.start_time DESC"], max_results=1000, page_token=token)
        found.extend(page)
        token = page.token
        if not token:
            return found


def parent_run(client: Any, experiment_name: str, experiment_id: Optional[str] = None) -> Any:
    """The parent run of tuneflows experiment ``experiment_id`` (the ``experiment_id``
    of its results), or the newest parent run of ``experiment_name`` when None.

    Raises:
        ValueError: No such parent run; the message names what there is.
    """
    runs = parent_runs(client, experiment_name)
    if experiment_id is not None:
        runs = [r for r in runs if r.data.tags.get(mlflow_tags.EXPERIMENT_ID) == experiment_id]
    if not runs:
        which = f" with {mlflow_tags.EXPERIMENT_ID}={experiment_id!r}" if experiment_id else ""
        raise ValueError(f"MLflow experiment {experiment_name!r} has no tuneflows parent "
                         f"run{which} (in {client.tracking_uri!r}).")
    return runs[0]


def trial_runs(client: Any, parent: Any) -> list[Any]:
    """The trial runs nested under ``parent``, in the order the trials were created (by
    trial id: several writer processes create the runs, so their start times may not be)."""
    found, token = [], None
    while True:
        page = client.search_runs(
            [parent.info.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
            order_by=["attributes.start_time ASC"], max_results=1000, page_token=token)
        found.extend(run for run in page if mlflow_tags.TRIAL_ID in run.data.tags)
        token = page.token
        if not token:
            return sorted(found, key=lambda run: run.data.tags[mlflow_tags.TRIAL_ID])


def parse_value(text: str) -> Any:
    """A param string back as the value it was written from: a Python literal (number,
    bool, None, list, dict, quoted string) when it reads as one, else the string.

    Example:
        >>> parse_value("0.5"), parse_value("relu"), parse_value("None"), parse_value("1e-3")
        (0.5, 'relu', None, 0.001)
    """
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def config_from_params(params: Mapping[str, str],
                       overrides: Optional[Mapping[str, str]] = None) -> dict[str, Any]:
    """A trial's config from its run's params (the config flattened with ``/``), with
    ``overrides`` (the same form, e.g. the ``config/`` tags of a PBT-perturbed trial)
    replacing them. A string param that reads as a number comes back as the number."""
    config: dict[str, Any] = {}
    for key, text in {**params, **(overrides or {})}.items():
        node = config
        *parents, leaf = key.split("/")
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[leaf] = parse_value(text)
    return config


def trial_config(run: Any) -> dict[str, Any]:
    """The config of a trial run: its params, with any ``config/`` tags over them."""
    changed = {k[len(CONFIG_TAG_PREFIX):]: v for k, v in run.data.tags.items()
               if k.startswith(CONFIG_TAG_PREFIX)}
    return config_from_params(run.data.params, changed)


def trial_status(run: Any) -> str:
    """A trial run's tuneflows status: TERMINATED (FINISHED), ERROR (FAILED), else RUNNING
    (a run that is still going, or was KILLED when the experiment ended first)."""
    return TRIAL_STATUS.get(run.info.status, RUNNING)


def metric_history(client: Any, run: Any) -> list[dict[str, Any]]:
    """A run's metrics by step (a row per step, oldest first, with the step as
    ``training_iteration``)."""
    by_step: dict[int, dict[str, Any]] = {}
    for key in sorted(run.data.metrics):
        for metric in client.get_metric_history(run.info.run_id, key):
            by_step.setdefault(metric.step, {"training_iteration": metric.step})[key] = metric.value
    return [by_step[step] for step in sorted(by_step)]
