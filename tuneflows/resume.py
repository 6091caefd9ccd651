"""Resume: which saved state an experiment continues from, and how its trials, their
checkpoints and the scheduler's and searcher's state are taken over from it."""

from __future__ import annotations

from typing import Any, Optional

from tuneflows import result as R
from tuneflows.checkpoints import CheckpointStore
from tuneflows.control.controller import TrialController
from tuneflows.experiment_state import ExperimentState, load_state
from tuneflows.recording.experiment_recorder import ExperimentRecorder
from tuneflows.spec import Experiment
from tuneflows.spec_changes import check_spec_unchanged
from tuneflows.trial import ERROR, PAUSED, PENDING, RUNNING, Trial

RESUME_MODES = (False, True, "AUTO", "ERRORED_ONLY")


def saved_state_to_resume(exp: Experiment, resume: Any) -> Optional[ExperimentState]:
    """The saved state to continue, per ``resume``; refuses to overwrite silently.

    Args:
        exp: The experiment.
        resume: One of :data:`RESUME_MODES`.

    ``True`` and ``"ERRORED_ONLY"`` need saved state; ``"AUTO"`` starts fresh without.
    Whatever the mode, saved state resumes only with the spec it was saved with.

    Raises:
        ValueError: A bad ``resume``, nothing to resume for ``True`` or
            ``"ERRORED_ONLY"``, existing state with ``resume=False``, or a spec changed
            since the state was saved (listing the differences).
    """
    if resume not in RESUME_MODES:
        raise ValueError(f"resume must be one of {RESUME_MODES}, got {resume!r}.")
    state = load_state(exp.dir)
    if state is None:
        if resume in (True, "ERRORED_ONLY"):
            raise ValueError(f"resume={resume!r}: {exp.dir!r} holds no experiment to resume "
                             f"(pass resume='AUTO' to resume when there is one, else start "
                             f"fresh).")
        return None
    if resume is False:
        raise ValueError(
            f"Experiment directory {exp.dir!r} already holds experiment {exp.name!r} "
            f"({len(state.trials)} trials). Pass resume=True to continue it (or "
            f"resume='ERRORED_ONLY' to re-run its failed trials), or start fresh with "
            f"another experiment name or local_dir, or after removing that directory."
        )
    check_spec_unchanged(state.spec, [t["trainable_name"] for t in state.trials], exp)
    return state


def restore_experiment(state: ExperimentState, controller: TrialController,
                       recorder: ExperimentRecorder, checkpoints: CheckpointStore,
                       errored_only: bool) -> None:
    """Rebuilds trials, checkpoints, scheduler and searcher from saved state.

    Finished trials stay finished (with ``errored_only``, failed ones run again);
    running ones restart from their latest checkpoint; results already in the trial
    files are not recorded again.
    """
    controller.scheduler.set_state(state.scheduler_state)
    controller.searcher.set_state(state.searcher_state)
    controller.searcher_done = state.searcher_done or errored_only
    controller.rounds.update(state.rounds)
    for fields in state.trials:
        trial = Trial(**fields)
        if trial.trial_id in state.checkpoints:
            path, iteration = state.checkpoints[trial.trial_id]
            checkpoints.adopt(trial.trial_id, path, iteration)
        will_run = not trial.is_finished() or (trial.status == ERROR and errored_only)
        if will_run:
            recorder.open_trial_run(trial)  # a no-op when the trial's run exists
        adopt_recorded_results(trial, controller, recorder)
        has_checkpoint = checkpoints.latest(trial.trial_id) is not None
        if trial.status == RUNNING or (trial.status == PAUSED and not has_checkpoint):
            trial.status = PENDING  # restarts from its latest checkpoint, if any
        if trial.status == ERROR and errored_only:
            trial.status, trial.num_failures, trial.error_msg = PENDING, 0, None
            trial.status_reason = "re-run (resume=ERRORED_ONLY)"
        controller.adopt_trial(trial, has_checkpoint, will_run)
        if will_run:
            recorder.on_trial_resume(trial)


def adopt_recorded_results(trial: Trial, controller: TrialController,
                           recorder: ExperimentRecorder) -> None:
    """Takes over the results a trial's files hold: they are not recorded again when
    the trial replays them."""
    rows = recorder.adopt_trial_files(trial)
    if rows:
        controller.replay_until[trial.trial_id] = int(rows[-1][R.TRAINING_ITERATION])
        trial.last_result = rows[-1]
