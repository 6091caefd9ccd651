"""``tuneflows migrate-state DIR``: converts the pickled state of a tuneflows before state
version 4 to JSON, for a directory the user trusts (loading a pickle can run code, so
tuneflows never does it on its own)."""

from __future__ import annotations

import argparse
import os
import pickle
from typing import Any

import cloudpickle

from tuneflows.error import TuneError
from tuneflows.runs.state import (
    LEGACY_STATE_FILE, ExperimentState, append_finished, save_configuration, save_state,
)

LEGACY_FINISHED_FILE = "finished_trials.pkl"


def _legacy_records(path: str) -> list[dict[str, Any]]:
    records = []
    if os.path.exists(path):
        with open(path, "rb") as f:
            while True:
                try:
                    records.append(pickle.load(f))
                except EOFError:
                    break
    return records


def migrate_state(experiment_dir: str) -> ExperimentState:
    """Writes the JSON state, ``finished_trials.jsonl`` and ``experiment.pkl`` from a
    version-3 pickle state, then renames the pickles ``*.migrated``.

    Raises:
        TuneError: No legacy state, or one that cannot be read.
    """
    legacy = os.path.join(experiment_dir, LEGACY_STATE_FILE)
    if not os.path.exists(legacy):
        raise TuneError(f"{experiment_dir!r} holds no {LEGACY_STATE_FILE} to migrate.")
    try:
        with open(legacy, "rb") as f:
            old = pickle.load(f)
        fields = vars(old)
        configuration = tuple(cloudpickle.loads(fields[key]) if fields.get(key) else None
                              for key in ("experiment", "scheduler", "searcher"))
        finished = _legacy_records(os.path.join(experiment_dir, LEGACY_FINISHED_FILE))
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "unreadable"
        raise TuneError(f"Cannot read {legacy!r} ({type(exc).__name__}: {exc}).") from exc
    state = ExperimentState(
        experiment_id=fields["experiment_id"], trials=list(fields.get("trials", [])),
        trial_order=list(fields.get("trial_order", [])),
        checkpoints=dict(fields.get("checkpoints", {})),
        scheduler_state=dict(fields.get("scheduler_state", {})),
        searcher_state=dict(fields.get("searcher_state", {})),
        searcher_done=bool(fields.get("searcher_done")), rounds=dict(fields.get("rounds", {})))
    save_configuration(experiment_dir, cloudpickle.dumps(configuration))
    if finished:
        append_finished(experiment_dir, finished)
    save_state(experiment_dir, state)
    for name in (LEGACY_STATE_FILE, LEGACY_FINISHED_FILE):
        path = os.path.join(experiment_dir, name)
        if os.path.exists(path):
            os.replace(path, path + ".migrated")
    return state


def cmd_migrate_state(args: argparse.Namespace) -> int:
    """``tuneflows migrate-state DIR``."""
    state = migrate_state(os.path.abspath(args.experiment_dir))
    print(f"Migrated experiment {state.experiment_id}: {len(state.trial_order)} trials.")
    return 0
