"""Resume: which run an experiment goes to and the saved state it continues from, and
how its trials, their checkpoints and the scheduler's and searcher's state are taken
over from it."""

from __future__ import annotations

import logging
import os
from typing import Any, Optional

from tuneflows.runs.checkpoint_store import CheckpointStore
from tuneflows.control.controller import TrialController
from tuneflows.control.resumed_trials import runs_again
from tuneflows.runs.state import ExperimentState, load_state, state_path
from tuneflows.recording.experiment_recorder import ExperimentRecorder
from tuneflows.model.run_ids import is_run_id, new_run_id
from tuneflows.runs.run_dirs import choose_run, read_run, run_dirs
from tuneflows.spec import Experiment
from tuneflows.runs.spec_changes import check_spec_unchanged
from tuneflows.trial import Trial

logger = logging.getLogger(__name__)

RESUME_MODES = (False, True, "AUTO", "ERRORED_ONLY")


def saved_state_to_resume(exp: Experiment, resume: Any, flow_run_id: Optional[str] = None,
                          retrying: bool = False) -> Optional[ExperimentState]:
    """Chooses the run of ``exp`` to go to (sets ``exp.run_id``: a new run, or the one
    to continue, :func:`~tuneflows.runs.run_dirs.choose_run`) and returns its saved state.

    Args:
        exp: The experiment.
        resume: One of :data:`RESUME_MODES`, or a run id (continue that run).
        flow_run_id: The Prefect flow run calling ``run_experiments``, if any.
        retrying: That flow run is on a retry (its run is continued).

    Returns:
        The state to continue, or None to start afresh in a new run directory.

    ``True`` and ``"ERRORED_ONLY"`` need saved state; ``"AUTO"`` starts fresh without.
    Whatever the mode, saved state resumes only with the spec it was saved with.

    Raises:
        ValueError: A bad ``resume``, nothing to resume for ``True``, ``"ERRORED_ONLY"``
            or a run id, or a spec changed since the state was saved (listing the
            differences).
    """
    by_id = isinstance(resume, str) and is_run_id(resume)
    if resume not in RESUME_MODES and not by_id:
        raise ValueError(f"resume must be one of {RESUME_MODES} or a run id, got {resume!r}.")
    runs = [read_run(d) for d in run_dirs(exp.experiment_dir)]
    if by_id:
        chosen = next((r for r in runs if r.run_id == resume and r.has_state), None)
        if chosen is None:
            raise ValueError(f"Experiment {exp.name!r} has no run {resume!r} to resume under "
                             f"{exp.experiment_dir!r}.")
    else:
        chosen = choose_run(runs, resume, flow_run_id, retrying)
    if chosen is None:
        if resume is True and not retrying:
            raise ValueError(f"resume=True: experiment {exp.name!r} has no unfinished run to "
                             f"continue under {exp.experiment_dir!r} (pass resume='AUTO' to "
                             f"continue one when there is one, else start a new run).")
        if resume and os.path.exists(state_path(exp.experiment_dir)):
            logger.warning("%s holds an experiment of a tuneflows before run directories; it "
                           "is not resumed (a new run starts beside it).", exp.experiment_dir)
        exp.run_id = new_run_id(existing=[r.run_id for r in runs])
        return None
    exp.run_id = chosen.run_id
    state = load_state(exp.dir)
    if state is not None:
        check_spec_unchanged(state.spec, [t["trainable_name"] for t in state.trials], exp)
    return state


def restore_experiment(state: ExperimentState, controller: TrialController,
                       recorder: ExperimentRecorder, checkpoints: CheckpointStore,
                       errored_only: bool) -> None:
    """Rebuilds trials, checkpoints, scheduler and searcher from saved state.

    Finished trials stay finished (with ``errored_only``, failed ones run again, judged
    anew after their checkpoint); running ones restart from their latest checkpoint;
    results already in the trial files are not recorded again, and those the saved
    scheduler state had not heard are judged as the trial replays them
    (:meth:`~tuneflows.control.controller.TrialController.take_over`).
    """
    controller.restore(state.scheduler_state, state.searcher_state,
                       state.searcher_done or errored_only, state.rounds)
    for fields in state.trials:
        trial = Trial(**fields)
        if trial.trial_id in state.checkpoints:
            path, iteration = state.checkpoints[trial.trial_id]
            checkpoints.adopt(trial.trial_id, path, iteration)
        will_run = runs_again(trial, errored_only)
        ran = trial.iteration > 0 or os.path.exists(os.path.join(trial.logdir, "result.json"))
        if will_run and ran:  # its results need a run (a no-op when it has one); a trial
            recorder.open_trial_run(trial)  # that never ran gets its run when it starts
        latest = checkpoints.latest(trial.trial_id)
        controller.take_over(trial, recorder.adopt_trial_files(trial),
                             latest.iteration if latest is not None else None, errored_only)
        if will_run:
            recorder.on_trial_resume(trial)


def adopt_recorded_results(trial: Trial, controller: TrialController,
                           recorder: ExperimentRecorder) -> None:
    """Takes over the results the files of a trial its scheduler has just added hold:
    they are not recorded again when the trial replays them, and the scheduler hears
    them then."""
    controller.adopt_records(trial, recorder.adopt_trial_files(trial))
