"""Ray Tune 2's configuration objects, with its field names: ``TuneConfig`` (how to
search), ``RunConfig`` (where and how long), ``CheckpointConfig`` and ``FailureConfig``.
Fields tuneflows does not support are refused when the object is made, with why
(:mod:`tuneflows.modern.arguments`).

Example:
    >>> config = RunConfig(name="exp", stop={"training_iteration": 5},
    ...                    checkpoint_config=CheckpointConfig(num_to_keep=2),
    ...                    failure_config=FailureConfig(max_failures=1))
    >>> config.checkpoint_config.num_to_keep, config.failure_config.max_failures
    (2, 1)
    >>> RunConfig(callbacks=[object()])
    Traceback (most recent call last):
    ...
    ValueError: RunConfig: callbacks is not supported: tuneflows records every result itself (trial files, TensorBoard, MLflow, Prefect); Ray Tune's Callback hooks are not called.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Union

from tuneflows.modern.arguments import refuse


@dataclass
class CheckpointConfig:
    """Which checkpoints a trial keeps and when a class trainable is asked for one.

    Args:
        num_to_keep: Keep this many per trial on disk (MLflow keeps every one).
        checkpoint_score_attribute: Result key ranking them (default: the newest kept).
        checkpoint_score_order: ``"max"`` or ``"min"``.
        checkpoint_frequency: Ask a class trainable for a checkpoint every N iterations.
        checkpoint_at_end: Ask a class trainable for a checkpoint when it ends.
    """

    num_to_keep: Optional[int] = None
    checkpoint_score_attribute: Optional[str] = None
    checkpoint_score_order: str = "max"
    checkpoint_frequency: int = 0
    checkpoint_at_end: Optional[bool] = None

    def __post_init__(self) -> None:
        if self.checkpoint_score_order not in ("max", "min"):
            raise ValueError(f"CheckpointConfig: checkpoint_score_order must be 'max' or "
                             f"'min', got {self.checkpoint_score_order!r}.")

    def score_attr(self) -> Optional[str]:
        """The engine's ``checkpoint_score_attr`` (``min-`` prefixed for ``"min"``)."""
        if self.checkpoint_score_attribute is None:
            return None
        prefix = "min-" if self.checkpoint_score_order == "min" else ""
        return prefix + self.checkpoint_score_attribute


@dataclass
class FailureConfig:
    """What a failing trial does.

    Args:
        max_failures: Restarts from the latest checkpoint before the trial ends in ERROR
            (``-1``: no limit).
        fail_fast: Stop the whole experiment when a trial errors; ``"raise"`` also
            raises its error from ``fit()``.
    """

    max_failures: int = 0
    fail_fast: Union[bool, str] = False

    def __post_init__(self) -> None:
        if not isinstance(self.fail_fast, bool) and str(self.fail_fast).upper() != "RAISE":
            raise ValueError(f"FailureConfig: fail_fast must be True, False or 'raise', got "
                             f"{self.fail_fast!r}.")
        if self.fail_fast and self.max_failures != 0:
            raise ValueError(f"FailureConfig: max_failures must be 0 with "
                             f"fail_fast={self.fail_fast!r}, got {self.max_failures}.")


@dataclass
class TuneConfig:
    """How the search runs.

    Args:
        metric: The result key trials are ranked by (given to a scheduler or searcher
            made without one).
        mode: ``"max"`` or ``"min"``.
        search_alg: A searcher (default: grid × samples of the param space).
        scheduler: A trial scheduler (default FIFO).
        num_samples: Samples of the param space (each grid point this many times).
        max_concurrent_trials: Most trials running at once.
        time_budget_s: Stop every trial this long after the experiment starts.
        reuse_actors: Accepted either way: tuneflows always reuses a trial's Ray worker
            for the next trial, with a new trainable object.
        trial_name_creator / trial_dirname_creator / chdir_to_trial_dir: Refused.
    """

    mode: Optional[str] = None
    metric: Optional[str] = None
    search_alg: Any = None
    scheduler: Any = None
    num_samples: int = 1
    max_concurrent_trials: Optional[int] = None
    time_budget_s: Optional[Union[int, float, datetime.timedelta]] = None
    reuse_actors: bool = False
    trial_name_creator: Optional[Callable[..., str]] = None
    trial_dirname_creator: Optional[Callable[..., str]] = None
    chdir_to_trial_dir: Any = "DEPRECATED"

    def __post_init__(self) -> None:
        refuse("TuneConfig", {"trial_name_creator": self.trial_name_creator,
                              "trial_dirname_creator": self.trial_dirname_creator,
                              "chdir_to_trial_dir": self.chdir_to_trial_dir})


@dataclass
class RunConfig:
    """Where results go and when trials stop.

    Args:
        name: The experiment's name (default: the trainable's).
        storage_path: The results root, a local directory (default ``$TUNE_RESULT_DIR``
            or ``~/ray_results``); ``local_dir`` is its older name.
        failure_config: A :class:`FailureConfig`.
        checkpoint_config: A :class:`CheckpointConfig`.
        verbose: 0 (nothing), 1 (the status block) or 2 and 3 (also each round's results).
        stop: A dict of result key to threshold, a Stopper, or ``f(trial_id, result)``.
        sync_config / storage_filesystem / callbacks / progress_reporter / log_to_file:
            Refused.
    """

    name: Optional[str] = None
    storage_path: Optional[str] = None
    storage_filesystem: Any = None
    failure_config: Optional[FailureConfig] = None
    checkpoint_config: Optional[CheckpointConfig] = None
    sync_config: Any = None
    verbose: Optional[int] = None
    stop: Union[Mapping[str, Any], Callable[..., bool], None] = None
    callbacks: Optional[list] = None
    progress_reporter: Any = None
    log_to_file: Any = False
    local_dir: Optional[str] = None

    def __post_init__(self) -> None:
        refuse("RunConfig", {"storage_filesystem": self.storage_filesystem,
                             "sync_config": self.sync_config, "callbacks": self.callbacks,
                             "progress_reporter": self.progress_reporter,
                             "log_to_file": self.log_to_file})
        self.failure_config = self.failure_config or FailureConfig()
        self.checkpoint_config = self.checkpoint_config or CheckpointConfig()
