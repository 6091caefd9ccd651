"""Experiment specifications: the seed's dict form and the ``Experiment`` class,
validated before any trial starts."""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence, Union

from tuneflows.error import SpecError, spec_errors
from tuneflows.model.by_name import close_name_hint
from tuneflows.registry import check_trainable, get_trainable
from tuneflows.search.config_validation import validate_config
from tuneflows.model.run_ids import new_run_id

VALID_KEYS = (
    "run", "stop", "config", "repeat", "num_samples", "trial_resources",
    "resources_per_trial", "local_dir", "checkpoint_freq", "checkpoint_at_end",
    "keep_checkpoints_num", "checkpoint_score_attr", "max_failures", "restore",
    "upload_dir", "max_seconds_without_result", "points_to_evaluate", "env",
)
#: Resource keys of ``trial_resources``: a trial's actor reserves ``cpu + extra_cpu``
#: CPUs and ``gpu + extra_gpu`` GPUs (the seed's ``extra_*``: for actors it starts).
RESOURCE_KEYS = ("cpu", "gpu", "extra_cpu", "extra_gpu")


def default_local_dir() -> str:
    """``$TUNE_RESULT_DIR``, else ``~/ray_results``."""
    return os.path.expanduser(os.environ.get("TUNE_RESULT_DIR") or "~/ray_results")


@dataclass
class Experiment:
    """One experiment: a trainable, its search space, stopping criteria and resources.

    Example:
        >>> from tuneflows import grid_search
        >>> def train_func(config, reporter): ...
        >>> exp = Experiment("my_experiment", run=train_func, stop={"mean_accuracy": 99},
        ...                  config={"lr": grid_search([0.2, 0.4, 0.6])}, local_dir="/r")
        >>> exp.trainable_name, exp.experiment_dir
        ('train_func', '/r/my_experiment')

    Args:
        name: Experiment name (the Prefect flow run, the MLflow parent run and the
            results directory are named after it).
        run: A registered trainable name, a function ``f(config, reporter)`` or
            ``f(config)``, or a :class:`~tuneflows.Trainable` subclass.
        stop: Result key to threshold; a trial stops at the first result reaching one.
        config: The search space (``grid_search``, ``sample_from``, lambdas, primitives).
        repeat: Number of samples of the space (seed spelling; ``num_samples`` is the
            preferred modern spelling).
        trial_resources: ``{"cpu": 1, "gpu": 0}`` per trial (``resources_per_trial``
            preferred); the seed's ``extra_cpu`` / ``extra_gpu`` add to what each
            trial's actor reserves. Not given: the Trainable class's
            ``default_resource_request(config)``, else one CPU.
        local_dir: Where results go (default ``$TUNE_RESULT_DIR`` or ``~/ray_results``).
        checkpoint_freq: Checkpoint every N iterations (0: never).
        checkpoint_at_end: Checkpoint when a trial ends.
        keep_checkpoints_num: Keep only the best/newest K checkpoints on disk.
        checkpoint_score_attr: Result key ranking checkpoints for ``keep_checkpoints_num``.
        max_failures: How often a failing trial is restarted from its last checkpoint.
        restore: A checkpoint directory every trial starts from.
        max_seconds_without_result: A trial whose trainable gives no result for this
            many seconds (hung in ``_train``) has its actor killed and counts as failed
            ("no result for N s"; restarted under ``max_failures``). Default: no limit.
        upload_dir: Not supported: any value other than None or ``""`` is rejected
            (results stay under ``local_dir``; MLflow is where they are shared). The
            key is accepted so that seed-era specs get this message rather than
            "unknown key".
        points_to_evaluate: Configs evaluated first (partial configs; YAML:
            ``points_to_evaluate: [{lr: 0.3}]``), given to the default grid × samples
            generator or to a searcher named by string (``search_alg="hyperopt"``).

    Raises:
        SpecError: A setting is invalid, naming the key and the value given (a TuneError
            and a ValueError).
    """

    name: str
    run: Union[str, Callable[..., Any], type]
    stop: Optional[Mapping[str, float]] = None
    config: Optional[Mapping[str, Any]] = None
    repeat: Optional[int] = None
    num_samples: Optional[int] = None
    trial_resources: Optional[Mapping[str, float]] = None
    resources_per_trial: Optional[Mapping[str, float]] = None
    local_dir: Optional[str] = None
    checkpoint_freq: int = 0
    checkpoint_at_end: bool = False
    keep_checkpoints_num: Optional[int] = None
    checkpoint_score_attr: Optional[str] = None
    max_failures: int = 3
    restore: Optional[str] = None
    upload_dir: Optional[str] = None
    max_seconds_without_result: Optional[float] = None
    points_to_evaluate: Optional[Sequence[Mapping[str, Any]]] = None
    trainable: Any = field(init=False, repr=False)
    trainable_name: str = field(init=False)
    #: This run's id: its results go to ``<local_dir>/<name>/<run_id>/``. A new id per
    #: ``Experiment``; ``run_experiments`` gives each run a new one, or a resumed run's.
    run_id: str = field(init=False)

    def __post_init__(self) -> None:
        with spec_errors():
            self._check()

    def _check(self) -> None:
        where = f"experiment {self.name!r}"
        if (not isinstance(self.name, str) or not self.name or self.name in (".", "..")
                or any(c in self.name for c in ("/", "\\", "\0"))):
            raise ValueError(f"Experiment name must be a non-empty directory name (not '.' "
                             f"or '..', no '/', '\\' or NUL), got {self.name!r}.")
        _check_upload_dir(self.upload_dir, where)
        self.points_to_evaluate = _check_points(self.points_to_evaluate, where)
        self.trainable, self.trainable_name = _resolve_run(self.run, where)
        self.stop = _check_stop(self.stop, where)
        if self.config is not None and not isinstance(self.config, Mapping):
            raise ValueError(f"{where}: 'config' must be a dict of settings (name: value), "
                             f"got {type(self.config).__name__} {self.config!r}.")
        self.config = dict(self.config or {})
        try:
            validate_config(self.config, allow_hyperopt=True)  # the searcher checks hp.*
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        self.num_samples = _check_samples(self.repeat, self.num_samples, where)
        self.resources = _check_resources(self.trial_resources, self.resources_per_trial, where)
        if self.trial_resources is None and self.resources_per_trial is None:
            self.resources = _requested_resources(self.trainable, self.config, where) \
                or self.resources
        self.local_dir = os.path.expanduser(self.local_dir or default_local_dir())
        self.run_id = new_run_id()
        for key in ("checkpoint_freq", "max_failures"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{where}: {key!r} must be an integer >= 0, got {value!r}.")
        if not isinstance(self.checkpoint_at_end, bool):
            raise ValueError(f"{where}: 'checkpoint_at_end' must be True or False, got "
                             f"{self.checkpoint_at_end!r}.")
        if self.keep_checkpoints_num is not None and (
            not isinstance(self.keep_checkpoints_num, int)
            or isinstance(self.keep_checkpoints_num, bool) or self.keep_checkpoints_num < 1
        ):
            raise ValueError(f"{where}: 'keep_checkpoints_num' must be an integer >= 1, "
                             f"got {self.keep_checkpoints_num!r}.")
        limit = self.max_seconds_without_result
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, numbers.Real)
                                  or not math.isfinite(limit) or limit <= 0):
            raise ValueError(f"{where}: 'max_seconds_without_result' must be a positive, "
                             f"finite number of seconds, got {limit!r}.")
        if self.restore is not None:
            if not os.path.isdir(self.restore):
                raise ValueError(f"{where}: 'restore' checkpoint {self.restore!r} does not "
                                 f"exist or is not a directory.")
            if not os.path.exists(os.path.join(self.restore, ".tune_metadata")):
                raise ValueError(f"{where}: 'restore' {self.restore!r} is not a tuneflows "
                                 f"checkpoint directory (it has no .tune_metadata).")

    @property
    def experiment_dir(self) -> str:
        """The directory of every run of the experiment, ``<local_dir>/<name>``."""
        return os.path.join(self.local_dir, self.name)

    @property
    def dir(self) -> str:
        """This run's results directory, ``<local_dir>/<name>/<run_id>``: its state,
        lock and trial directories."""
        return os.path.join(self.local_dir, self.name, self.run_id)

    def trial_settings(self) -> dict[str, Any]:
        """The settings, under their spec keys, that shape every trial: what a resume
        compares with the saved run (``tuneflows/runs/spec_changes.py``) and the MLflow
        parent run's ``experiment.json`` records.

        Example:
            >>> exp = Experiment("e", run=lambda config, reporter: None, local_dir="/r")
            >>> sorted(exp.trial_settings())[:3]
            ['checkpoint_at_end', 'checkpoint_freq', 'checkpoint_score_attr']
        """
        return {
            "config": self.config,
            "stop": self.stop,
            "num_samples": self.num_samples,
            "resources_per_trial": self.resources,
            "checkpoint_freq": self.checkpoint_freq,
            "checkpoint_at_end": self.checkpoint_at_end,
            "keep_checkpoints_num": self.keep_checkpoints_num,
            "checkpoint_score_attr": self.checkpoint_score_attr,
            "max_failures": self.max_failures,
            "restore": self.restore,
        }

    @classmethod
    def from_spec(cls, name: str, spec: Mapping[str, Any]) -> "Experiment":
        """Builds an Experiment from the seed's dict form, rejecting unknown keys. An
        ``env`` beside ``config`` moves into it (``config["env"]``), as in the seed.

        Example:
            >>> exp = Experiment.from_spec("e", {"run": lambda config, reporter: None,
            ...                                  "env": "CartPole-v0", "local_dir": "/r"})
            >>> exp.config
            {'env': 'CartPole-v0'}

        Raises:
            SpecError: (a TuneError and a ValueError) naming the bad key or value.
        """
        if not isinstance(spec, Mapping):
            raise SpecError(f"Experiment {name!r} must be a dict of settings, got {spec!r}.")
        unknown = sorted(set(spec) - set(VALID_KEYS))
        if unknown:
            hint = close_name_hint(str(unknown[0]), VALID_KEYS) if len(unknown) == 1 else ""
            raise SpecError(
                f"Experiment {name!r} has unknown key(s) {unknown}{hint}; valid keys: "
                f"{', '.join(VALID_KEYS)}."
            )
        if "run" not in spec:
            raise SpecError(f"Experiment {name!r} needs a 'run' key (a trainable).")
        return cls(name=name, **with_env_in_config(spec))

    #: The seed's name of :meth:`from_spec` (``Experiment.from_json(name, spec)``).
    from_json = from_spec


def with_env_in_config(spec: Mapping[str, Any]) -> dict[str, Any]:
    """``spec`` with an ``env`` key moved into its config (the seed's RLlib habit).

    Example:
        >>> with_env_in_config({"run": "PPO", "env": "Pong-v0", "config": {"lr": 0.1}})
        {'run': 'PPO', 'config': {'lr': 0.1, 'env': 'Pong-v0'}}
    """
    spec = dict(spec)
    if "env" in spec:
        config = spec.get("config")
        if config is not None and not isinstance(config, Mapping):
            raise SpecError(f"'config' must be a dict of settings, got {config!r}.")
        spec["config"] = {**(config or {}), "env": spec.pop("env")}
    return spec


def _resolve_run(run: Any, where: str) -> tuple[Any, str]:
    if isinstance(run, str):
        return get_trainable(run), run
    if not callable(run):
        raise ValueError(
            f"{where}: 'run' must be a registered trainable name, a function or a "
            f"Trainable class; got {run!r} (not callable)."
        )
    check_trainable(run, f"{where}: 'run'", ValueError)
    return run, getattr(run, "__name__", type(run).__name__)


def _requested_resources(trainable: Any, config: Mapping[str, Any],
                         where: str) -> Optional[dict[str, float]]:
    """What a Trainable class's ``default_resource_request(config)`` asks for, checked
    as ``trial_resources`` are (None when it asks for nothing)."""
    request = getattr(trainable, "default_resource_request", None)
    if not isinstance(trainable, type) or request is None:
        return None
    resources = request(config)
    if resources is None:
        return None
    return _check_resources(dict(resources._asdict()), None,
                            f"{where}: {trainable.__name__}.default_resource_request")


def _check_points(points: Any, where: str) -> Optional[list[dict[str, Any]]]:
    if points is None:
        return None
    if not isinstance(points, (list, tuple)) or not all(isinstance(p, Mapping) for p in points):
        raise ValueError(f"{where}: 'points_to_evaluate' must be a list of configs (mappings "
                         f"of config keys to values), got {points!r}.")
    return [dict(p) for p in points]


def _check_upload_dir(upload_dir: Any, where: str) -> None:
    if upload_dir is None or upload_dir == "":
        return
    raise ValueError(
        f"{where}: upload_dir is not supported (got {upload_dir!r}): tuneflows does not "
        f"sync results to remote storage; results stay under local_dir; MLflow "
        f"(MLFLOW_TRACKING_URI with an artifact store) is where they are shared."
    )


def _check_stop(stop: Any, where: str) -> dict[str, float]:
    if stop is None:
        return {}
    if not isinstance(stop, Mapping):
        raise ValueError(
            f"{where}: 'stop' must be a mapping of result key to number, got {stop!r}."
        )
    for key, value in stop.items():
        if not isinstance(key, str):
            raise ValueError(f"{where}: 'stop' key {key!r} must be a string.")
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
            raise ValueError(
                f"{where}: 'stop' value for {key!r} must be a number (not NaN), got {value!r}."
            )
    return dict(stop)


def _check_samples(repeat: Any, num_samples: Any, where: str) -> int:
    if repeat is not None and num_samples is not None and repeat != num_samples:
        raise ValueError(f"{where}: give 'repeat' ({repeat!r}) or 'num_samples' "
                         f"({num_samples!r}), not both.")
    value = num_samples if num_samples is not None else repeat
    if value is None:
        return 1
    key = "num_samples" if num_samples is not None else "repeat"
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where}: {key!r} must be an integer >= 1, got {value!r}.")
    return value


def _check_resources(seed: Any, modern: Any, where: str) -> dict[str, float]:
    if seed is not None and modern is not None:
        raise ValueError(f"{where}: give 'trial_resources' or 'resources_per_trial', not both.")
    given = modern if modern is not None else seed
    if given is None:
        return {"cpu": 1.0, "gpu": 0.0}
    key = "resources_per_trial" if modern is not None else "trial_resources"
    if not isinstance(given, Mapping):
        raise ValueError(f"{where}: {key!r} must be a dict like {{'cpu': 1, 'gpu': 0}}, "
                         f"got {given!r}.")
    amounts = {"cpu": 1.0, "gpu": 0.0}
    for name, amount in given.items():
        lowered = str(name).lower()
        if lowered not in RESOURCE_KEYS:
            raise ValueError(f"{where}: {key!r} has unknown resource {name!r}; valid: "
                             f"{', '.join(RESOURCE_KEYS)}.")
        if (isinstance(amount, bool) or not isinstance(amount, numbers.Real)
                or not math.isfinite(amount) or amount < 0):
            raise ValueError(f"{where}: {key}[{name!r}] must be a finite number >= 0, got "
                             f"{amount!r}.")
        amounts[lowered] = float(amount)
    resources = {kind: amounts[kind] + amounts.get(f"extra_{kind}", 0.0)
                 for kind in ("cpu", "gpu")}
    if resources["cpu"] == 0 and resources["gpu"] == 0:
        raise ValueError(f"{where}: {key!r} must ask for some CPU or GPU; a trial with no "
                         f"resources would start a Ray worker per trial.")
    return resources


def normalize_experiments(experiments: Any) -> list[Experiment]:
    """Accepts a dict of specs, an Experiment or a list of either.

    Raises:
        SpecError: A bad spec (naming it), or ``experiments`` of another type.
    """
    if isinstance(experiments, Experiment):
        return [experiments]
    if isinstance(experiments, Mapping):
        return [Experiment.from_spec(name, spec) for name, spec in experiments.items()]
    if isinstance(experiments, Sequence) and not isinstance(experiments, str):
        result: list[Experiment] = []
        for item in experiments:
            result.extend(normalize_experiments(item))
        return result
    raise SpecError(
        f"experiments must be a dict, an Experiment or a list of them, got {experiments!r}."
    )
