"""Trials: the driver's mutable record of one configuration, and the frozen snapshot
that schedulers and searchers read."""

from __future__ import annotations

import dataclasses
import os
import re
from collections import namedtuple
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Mapping, Optional

from tuneflows.model.codes import TrialStatus
from tuneflows.result import ResultDict

#: The seed's module-level status names (members of :class:`TrialStatus`).
PENDING, RUNNING, PAUSED, TERMINATED, ERROR = (
    TrialStatus.PENDING, TrialStatus.RUNNING, TrialStatus.PAUSED, TrialStatus.TERMINATED,
    TrialStatus.ERROR)


class Resources(namedtuple("Resources", ["cpu", "gpu", "extra_cpu", "extra_gpu"])):
    """Resources a trial holds (the seed's ``ray.tune.trial.Resources``): ``cpu`` and
    ``gpu`` for the trainable, ``extra_cpu`` and ``extra_gpu`` for what it starts
    itself; its actor reserves the totals.

    A Trainable's ``default_resource_request(config)`` may return one.

    Example:
        >>> r = Resources(cpu=1, gpu=0, extra_cpu=2)
        >>> r.cpu_total(), r.gpu_total(), r.summary_string()
        (3, 0, '3 CPUs, 0 GPUs')
    """

    __slots__ = ()

    def __new__(cls, cpu: float, gpu: float, extra_cpu: float = 0,
                extra_gpu: float = 0) -> "Resources":
        return super().__new__(cls, cpu, gpu, extra_cpu, extra_gpu)

    def cpu_total(self) -> float:
        """CPUs reserved: ``cpu + extra_cpu``."""
        return self.cpu + self.extra_cpu

    def gpu_total(self) -> float:
        """GPUs reserved: ``gpu + extra_gpu``."""
        return self.gpu + self.extra_gpu

    def summary_string(self) -> str:
        """``"<n> CPUs, <m> GPUs"`` (the totals)."""
        return f"{self.cpu_total():g} CPUs, {self.gpu_total():g} GPUs"


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


@dataclass(frozen=True)
class TrialSnapshot:
    """A read-only view of a trial, handed to schedulers and searchers.

    Algorithms decide from snapshots and never see the runner's mutable state (as
    Optuna's ``FrozenTrial``).

    Attributes:
        trial_id: Unique id of the trial within its experiment.
        config: The trial's resolved hyperparameters (read-only mapping).
        status: One of PENDING, RUNNING, PAUSED, TERMINATED, ERROR.
        last_result: The most recent result (read-only mapping), or None.
        has_checkpoint: Whether the trial has a checkpoint it can resume or be cloned from.
        num_failures: How many times the trial has failed so far.
    """

    trial_id: str
    config: Mapping[str, Any]
    status: str = PENDING
    last_result: Optional[Mapping[str, Any]] = None
    has_checkpoint: bool = False
    num_failures: int = 0

    @classmethod
    def make(cls, trial_id: str, config: Mapping[str, Any], **kwargs: Any) -> "TrialSnapshot":
        """Builds a snapshot, freezing ``config`` and ``last_result``."""
        last = kwargs.pop("last_result", None)
        return cls(
            trial_id=trial_id,
            config=_freeze(dict(config)),
            last_result=_freeze(dict(last)) if last is not None else None,
            **kwargs,
        )


    def with_result(self, result: Mapping[str, Any]) -> "TrialSnapshot":
        """The same snapshot as of ``result`` (each result of a round in turn)."""
        return dataclasses.replace(self, last_result=_freeze(dict(result)))


@dataclass
class Trial:
    """The driver's record of one trial, as returned by ``run_experiments``.

    Attributes:
        trial_id: Unique id within the experiment (e.g. ``"3f2a1_00004"``).
        experiment_tag: Index and the varied values, e.g. ``"4_lr=0.4,momentum=0.2"``.
        config: The resolved configuration passed to the trainable.
        trainable_name: Registered name of the trainable.
        status: PENDING, RUNNING, PAUSED, TERMINATED or ERROR.
        last_result: The last result reported, completed with the automatic keys.
        logdir: Directory holding ``params.json``, ``result.json``, ``progress.csv``.
        error_file: Path of ``error.txt`` when the trial failed, else None.
        error_msg: One-line summary of the failure, else None.
        num_failures: How many times the trial failed (and was restarted).
        status_reason: Why the scheduler last stopped, paused or perturbed it.
        resources: Ray resources the trial's actor holds, e.g. ``{"cpu": 1, "gpu": 0}``.
        stopping_criterion: Result key to threshold; the trial ends when one is reached.

    The statuses are class attributes too, as the seed's ``Trial.RUNNING``, and
    ``last_result`` reads by key and by attribute (a :class:`~tuneflows.result.ResultDict`).

    Example:
        >>> t = Trial("a_00000", "0", {}, "f", "", last_result={"timesteps_total": 5})
        >>> result = t.last_result
        >>> t.status == Trial.PENDING, result.timesteps_total, result["timesteps_total"]
        (True, 5, 5)
    """

    PENDING: ClassVar[str] = PENDING
    RUNNING: ClassVar[str] = RUNNING
    PAUSED: ClassVar[str] = PAUSED
    TERMINATED: ClassVar[str] = TERMINATED
    ERROR: ClassVar[str] = ERROR

    trial_id: str
    experiment_tag: str
    config: dict[str, Any]
    trainable_name: str
    logdir: str
    status: str = PENDING
    last_result: Optional[dict[str, Any]] = None
    error_file: Optional[str] = None
    error_msg: Optional[str] = None
    num_failures: int = 0
    status_reason: str = ""
    resources: dict[str, float] = field(default_factory=lambda: {"cpu": 1, "gpu": 0})
    stopping_criterion: dict[str, float] = field(default_factory=dict)
    checkpoint_freq: int = 0
    checkpoint_at_end: bool = False
    max_failures: int = 0
    pid: Optional[int] = None

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "last_result" and value is not None and not isinstance(value, ResultDict):
            value = ResultDict(value)
            config = self.__dict__.get("config")
            if value.get("config") == config and value.get("config") is not config:
                value["config"] = config  # one copy of the config a trial holds, not two
        super().__setattr__(name, value)

    @property
    def name(self) -> str:
        """Display name, ``<trainable>_<experiment_tag>``; with an ``env`` in the config,
        ``<trainable>_<env>_<experiment_tag>`` (the seed's, e.g. ``PPO_Pong-v0_0``)."""
        if "env" in self.config:
            return f"{self.trainable_name}_{self.config['env']}_{self.experiment_tag}"
        return f"{self.trainable_name}_{self.experiment_tag}"

    @property
    def local_dir(self) -> str:
        """The experiment's directory, ``<local_dir>/<experiment>`` (the seed's
        ``Trial.local_dir``): ``logdir`` is ``<local_dir>/<experiment>/<run id>/<trial>``."""
        return os.path.dirname(os.path.dirname(self.logdir))

    @property
    def iteration(self) -> int:
        """``training_iteration`` of the last result (0 before the first)."""
        return int((self.last_result or {}).get("training_iteration", 0))

    def snapshot(self, has_checkpoint: bool = False) -> TrialSnapshot:
        """A frozen view for schedulers and searchers."""
        return TrialSnapshot.make(
            self.trial_id,
            self.config,
            status=self.status,
            last_result=self.last_result,
            has_checkpoint=has_checkpoint,
            num_failures=self.num_failures,
        )

    def is_finished(self) -> bool:
        """Whether the trial ended (TERMINATED or ERROR)."""
        return self.status in (TERMINATED, ERROR)

    def __str__(self) -> str:
        return self.name

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, for experiment state and the REST API."""
        return dataclasses.asdict(self)


def trial_dir_name(name: str, trial_id: str) -> str:
    """A trial's directory name: its display name with unsafe characters replaced."""
    safe = re.sub(r"[^\w.=,+-]", "_", name)
    if len(safe) > 120:
        safe = f"{safe[:100]}_{trial_id}"
    return safe
