"""How an experiment stopped before its end is told (issue 20): a cancel in Prefect and
Ctrl-C each name the run and how to resume it; Ctrl-C uncaught is one line."""

from __future__ import annotations

import subprocess
import sys

from prefect.exceptions import Abort

from tuneflows.error import ExperimentCancelled, TuneError
from tuneflows.orchestration.cancel_watch import Cancellation
from tuneflows.orchestration.run_endings import ExperimentInterrupted, cancelled, resume_hint

RUN_DIR = "/r/demo/2026-12-06_16-22-55_0eec"


def test_a_cancel_of_a_scripts_flow_run_says_how_to_resume():
    own = Cancellation("f1", "demo", is_caller=False, deployment_id=None, message="by alice")
    error = cancelled("demo", RUN_DIR, own)
    assert isinstance(error, ExperimentCancelled) and isinstance(error, TuneError)
    assert str(error) == (
        "Experiment 'demo' was cancelled: its Prefect flow run, 'demo' (f1), was cancelled: "
        f"by alice. Its trials stopped and its state is saved in {RUN_DIR}. Resume it: "
        f"tuneflows resume {RUN_DIR} (or run_experiments(..., resume='2026-12-06_16-22-55_0eec')).")


def test_a_cancelled_deployment_run_is_left_to_its_worker(caplog):
    caller = Cancellation("d1", "fuzzy-owl", is_caller=True, deployment_id="dep", message="")
    error = cancelled("demo", RUN_DIR, caller)
    assert isinstance(error, Abort)  # the flow run's process ends quietly, Cancelled by the worker
    assert "the Prefect flow run that started it, 'fuzzy-owl' (d1), was cancelled" in str(error)
    assert "Resume it as a deployment run: prefect flow-run retry d1" in caplog.text
    script_parent = Cancellation("p1", "parent", is_caller=True, deployment_id=None, message="")
    assert isinstance(cancelled("demo", RUN_DIR, script_parent), ExperimentCancelled)


def test_an_uncaught_interruption_is_one_line():
    program = ("from tuneflows.orchestration.run_endings import interrupted\n"
               f"raise interrupted('demo', {RUN_DIR!r})\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0
    assert done.stderr.splitlines() == [
        "Experiment 'demo' was interrupted (Ctrl-C); its state is saved. Resume it: "
        f"{resume_hint(RUN_DIR)}"]
    assert issubclass(ExperimentInterrupted, KeyboardInterrupt)  # except KeyboardInterrupt holds
