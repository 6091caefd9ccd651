"""A new trial of an experiment: its record built from the experiment's settings, its
id, its place in the experiment and its config."""

from __future__ import annotations

import os
from typing import Any, Mapping

from tuneflows.spec import Experiment
from tuneflows.trial import Trial, trial_dir_name


def make_trial(experiment: Experiment, trial_id: str, index: int, config: Mapping[str, Any],
               tag: str) -> Trial:
    """A PENDING trial of ``experiment`` with a resolved ``config``.

    Args:
        experiment: Gives the trainable, resources, stop criteria, checkpoint settings,
            failure budget and the run directory the trial's logdir goes in.
        trial_id: The trial's id.
        index: Its position in the experiment (the start of its tag).
        config: The resolved configuration.
        tag: What varies (e.g. ``"lr=0.1"``), or a source such as ``"client"``.

    Example:
        >>> exp = Experiment("demo", run=lambda config, reporter: None, local_dir="/r")
        >>> exp.run_id = "2026-12-02_00-31-05_ab12"
        >>> trial = make_trial(exp, "t_00003", 3, {"lr": 0.1}, "lr=0.1")
        >>> trial.name, trial.logdir, trial.status
        ('<lambda>_3_lr=0.1', '/r/demo/2026-12-02_00-31-05_ab12/_lambda__3_lr=0.1', 'PENDING')
    """
    trial = Trial(
        trial_id=trial_id, experiment_tag=f"{index}_{tag}" if tag else str(index),
        config=dict(config), trainable_name=experiment.trainable_name, logdir="",
        resources=dict(experiment.resources), stopping_criterion=dict(experiment.stop or {}),
        checkpoint_freq=experiment.checkpoint_freq,
        checkpoint_at_end=experiment.checkpoint_at_end, max_failures=experiment.max_failures,
    )
    trial.logdir = os.path.join(experiment.dir, trial_dir_name(trial.name, trial_id))
    return trial
