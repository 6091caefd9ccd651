"""The final model of a tuning experiment in MLflow: logged as a model on a run linked to
the tuning experiment's parent run, registered as a new version in the Model Registry,
and given the alias (``champion``) only when it beats the alias' version on held-out data.

The held-out score of every version is kept in its tags (``tuneflows.held_out.metric``,
``.value``, ``.mode``), so the next version is compared with the champion without
re-evaluating it. A version that ties the champion does not take the alias.

Example:
    >>> new = HeldOutScore("test_accuracy", 0.95)
    >>> new.beats(0.93), new.beats(0.95), new.beats(None)
    (True, False, True)
    >>> HeldOutScore("test_loss", 0.2, "min").beats(0.3)
    True
"""

from __future__ import annotations

import importlib
import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Optional, Sequence

from tuneflows.recording.mlflow import tags as mlflow_tags
from tuneflows.model.metric_mode import validate_mode



@dataclass(frozen=True)
class HeldOutScore:
    """A model's score on held-out data.

    Attributes:
        metric: What was measured, e.g. ``"test_accuracy"``.
        value: The score.
        mode: ``"max"`` (higher is better) or ``"min"``.
    """

    metric: str
    value: float
    mode: str = "max"

    def __post_init__(self) -> None:
        validate_mode(self.mode)
        if not math.isfinite(self.value):
            raise ValueError(f"The held-out {self.metric} must be a finite number, "
                             f"got {self.value!r}.")

    def beats(self, other: Optional[float]) -> bool:
        """Whether this score is strictly better than ``other`` (None: nothing to beat)."""
        if other is None:
            return True
        return self.value > other if self.mode == "max" else self.value < other


@dataclass(frozen=True)
class LoggedModel:
    """A model logged on an MLflow run: the run, and the URI to register it from."""

    run_id: str
    model_uri: str


@dataclass(frozen=True)
class Registration:
    """What registering a model version did.

    Attributes:
        model_name: The registered model.
        version: The new version.
        alias: The alias it competed for.
        promoted: Whether the alias moved to the new version.
        score: The new version's held-out score.
        champion_version: The alias' version before (None: the alias was unset).
        champion_value: That version's held-out score (None: unset, not recorded, or
            judged by another metric).
        run_id: The run the model was logged on.
    """

    model_name: str
    version: str
    alias: str
    promoted: bool
    score: HeldOutScore
    champion_version: Optional[str]
    champion_value: Optional[float]
    run_id: str

    def describe(self) -> str:
        """One sentence saying what happened to the alias.

        Example:
            >>> r = Registration("digits", "3", "champion", False,
            ...                  HeldOutScore("test_accuracy", 0.9), "2", 0.94, "r1")
            >>> r.describe()
            "Version 3 of 'digits' (test_accuracy 0.9) did not beat champion version 2 (test_accuracy 0.94): alias 'champion' stays on version 2."
        """
        new = (f"Version {self.version} of {self.model_name!r} "
               f"({self.score.metric} {self.score.value:.4g})")
        if self.champion_version is None:
            return f"{new} is the first: alias {self.alias!r} set to version {self.version}."
        if self.champion_value is None:
            old = (f"champion version {self.champion_version} (no held-out "
                   f"{self.score.metric} recorded, so it keeps the alias)")
        else:
            old = (f"champion version {self.champion_version} "
                   f"({self.score.metric} {self.champion_value:.4g})")
        if self.promoted:
            return f"{new} beat {old}: alias {self.alias!r} moved to version {self.version}."
        return (f"{new} did not beat {old}: alias {self.alias!r} stays on version "
                f"{self.champion_version}.")

    def as_dict(self) -> dict[str, Any]:
        """Plain data (JSON), with the sentence under ``"summary"``."""
        return {**asdict(self), "summary": self.describe()}


def log_model(tracking_uri: str, experiment_name: str, model: Any, *, flavor: str = "sklearn",
              run_name: str, params: Mapping[str, Any], metrics: Mapping[str, float],
              tags: Mapping[str, str],
              pip_requirements: Optional[Sequence[str]] = None) -> LoggedModel:
    """Logs ``model`` with MLflow's ``flavor`` (``mlflow.<flavor>.log_model``) on a new run
    of ``experiment_name`` holding ``params``, ``metrics`` and ``tags``.

    Args:
        tracking_uri: The MLflow store.
        experiment_name: The MLflow experiment of the run (the tuning experiment's).
        model: The trained model.
        flavor: The MLflow flavor module that logs it.
        run_name: The run's name.
        params: Its params (e.g. the config it was trained with).
        metrics: Its metrics (e.g. the held-out score).
        tags: Its tags (e.g. :data:`mlflow_tags.TUNING_RUN`).
        pip_requirements: The model's requirements; given, MLflow does not infer them
            (inference loads the model in a subprocess: seconds).
    """
    import mlflow

    logger = importlib.import_module(f"mlflow.{flavor}")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(tracking_uri)  # the fluent API is the one log_model speaks
    try:
        experiment = mlflow.get_experiment_by_name(experiment_name)
        experiment_id = (experiment.experiment_id if experiment is not None
                         else mlflow.create_experiment(experiment_name))
        with mlflow.start_run(experiment_id=experiment_id, run_name=run_name,
                              tags=dict(tags)) as run:
            mlflow.log_params({k: str(v) for k, v in params.items()})
            mlflow.log_metrics(dict(metrics))
            info = logger.log_model(model, name="model", pip_requirements=pip_requirements)
        return LoggedModel(run.info.run_id, info.model_uri)
    finally:
        mlflow.set_tracking_uri(previous)


def champion_of(client: Any, model_name: str, alias: str,
                metric: str) -> tuple[Optional[str], Optional[float]]:
    """The version ``alias`` points at and its held-out ``metric``: the version's
    :data:`mlflow_tags.HELD_OUT_VALUE`, else its run's metric of that name (None when neither
    holds it, or the version was judged by another metric); (None, None) when the model
    or the alias does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        version = client.get_model_version_by_alias(model_name, alias)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None, None
        raise
    number = str(version.version)
    if version.tags.get(mlflow_tags.HELD_OUT_METRIC, metric) != metric:
        return number, None
    text = version.tags.get(mlflow_tags.HELD_OUT_VALUE)
    if text is not None:
        return number, float(text)
    value = client.get_run(version.run_id).data.metrics.get(metric) if version.run_id else None
    return number, value


def register_version(client: Any, model_name: str, logged: LoggedModel, score: HeldOutScore,
                     alias: str = "champion",
                     tags: Optional[Mapping[str, str]] = None) -> Registration:
    """Registers ``logged`` as a new version of ``model_name`` (creating the registered
    model if needed), tagged with its held-out ``score`` and ``tags``, and moves ``alias``
    to it only when it beats the alias' version (:meth:`HeldOutScore.beats`). A champion
    whose held-out score on the same metric is not recorded keeps the alias.

    Returns:
        What happened, in :class:`Registration`.
    """
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(model_name)
    except MlflowException as exc:
        if exc.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
            raise
    champion_version, champion_value = champion_of(client, model_name, alias, score.metric)
    version_tags = {mlflow_tags.HELD_OUT_METRIC: score.metric, mlflow_tags.HELD_OUT_VALUE: repr(score.value),
                    mlflow_tags.HELD_OUT_MODE: score.mode, **(tags or {})}
    model_id = (logged.model_uri[len("models:/"):] if logged.model_uri.startswith("models:/m-")
                else None)  # a logged model (MLflow 3) rather than a run's artifacts
    # The registry resolves a ``models:/m-...`` source through MLflow's default tracking
    # URI, not the client's (another store: ``<cwd>/mlflow.db``): resolved here instead.
    source = (client.get_logged_model(model_id).artifact_location if model_id
              else logged.model_uri)
    version = client.create_model_version(model_name, source, run_id=logged.run_id,
                                          tags=version_tags, model_id=model_id)
    comparable = champion_version is None or champion_value is not None
    promoted = comparable and score.beats(champion_value)
    if promoted:
        client.set_registered_model_alias(model_name, alias, version.version)
    return Registration(model_name, str(version.version), alias, promoted, score,
                        champion_version, champion_value, logged.run_id)
