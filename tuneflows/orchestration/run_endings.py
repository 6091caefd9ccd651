"""What ``run_experiments`` raises when an experiment was stopped before its end, each
saying which run stopped and how to resume it: a cancel in Prefect
(:class:`~tuneflows.error.ExperimentCancelled`), Ctrl-C (:class:`ExperimentInterrupted`,
shown as one line instead of a traceback).

Example:
    >>> resume_hint("/r/demo/2026-12-06_16-22-55_0eec")
    "tuneflows resume /r/demo/2026-12-06_16-22-55_0eec (or run_experiments(..., resume='2026-12-06_16-22-55_0eec'))"
"""

from __future__ import annotations

import logging
import os
import sys
from types import TracebackType
from typing import Optional

from tuneflows.error import ExperimentCancelled
from tuneflows.orchestration.cancel_watch import Cancellation

logger = logging.getLogger(__name__)


class ExperimentInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) stopped the experiment cleanly: its state is saved and the message
    says how to resume it. Uncaught, it is shown as that one line (no traceback) and the
    process ends as Ctrl-C ends it."""


def resume_hint(run_dir: str) -> str:
    """The command (and the call) that continue the run in ``run_dir``."""
    return (f"tuneflows resume {run_dir} "
            f"(or run_experiments(..., resume={os.path.basename(run_dir)!r}))")


def cancelled(name: str, run_dir: str, cancellation: Cancellation) -> BaseException:
    """What ``run_experiments`` raises for an experiment stopped by a cancel in Prefect.

    For a script, :class:`~tuneflows.error.ExperimentCancelled`. For a deployment's flow
    run that was cancelled (its worker then ends it Cancelled), Prefect's ``Abort``: the
    flow run's process ends quietly, leaving the flow run's state to the worker, after
    the flow run's log says how to resume it as a deployment run
    (``prefect flow-run retry``: the retried flow run continues the same run directory).
    """
    text = (f"Experiment {name!r} was cancelled: {cancellation.describe()}. Its trials "
            f"stopped and its state is saved in {run_dir}")
    if cancellation.is_caller and cancellation.deployment_id:
        from prefect.exceptions import Abort

        logger.warning("%s. Resume it as a deployment run: prefect flow-run retry %s "
                       "(or here: %s).", text, cancellation.flow_run_id, resume_hint(run_dir))
        return Abort(f"{text}.")
    return ExperimentCancelled(f"{text}. Resume it: {resume_hint(run_dir)}.")


def interrupted(name: str, run_dir: str) -> ExperimentInterrupted:
    """What ``run_experiments`` raises for an experiment stopped by Ctrl-C; shown as one
    line when nothing catches it."""
    _show_interruptions_as_one_line()
    return ExperimentInterrupted(
        f"Experiment {name!r} was interrupted (Ctrl-C); its state is saved. Resume it: "
        f"{resume_hint(run_dir)}")


def _show_interruptions_as_one_line() -> None:
    """Makes the interpreter show an uncaught :class:`ExperimentInterrupted` as its
    message alone; any other exception as before."""
    previous = sys.excepthook
    if getattr(previous, "tuneflows_one_line", False):
        return

    def hook(kind: type, value: BaseException, traceback: Optional[TracebackType]) -> None:
        if isinstance(value, ExperimentInterrupted):
            print(str(value), file=sys.stderr, flush=True)
        else:
            previous(kind, value, traceback)

    hook.tuneflows_one_line = True  # type: ignore[attr-defined]
    sys.excepthook = hook
