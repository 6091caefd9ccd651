"""Checkpoints, restarts after dead trial processes, and resuming a killed driver —
with real processes killed for real."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

import tuneflows
from tuneflows.recording.trial_files import count_results
from tuneflows.trial import TERMINATED


def _iterations(trial_dir: str) -> list[int]:
    with open(os.path.join(trial_dir, "result.json")) as f:
        return [json.loads(line)["training_iteration"] for line in f]


class DiesOnce(tuneflows.Trainable):
    """Counts; on its first life, kills its own process at iteration 5."""

    def _setup(self, config):
        self.value = 0

    def _train(self):
        self.value += 1
        marker = self.config["marker"]
        if self.value == 5 and not os.path.exists(marker):
            open(marker, "w").close()
            if self.config["how"] == "exit":
                os._exit(1)
            import ray

            ray.kill(ray.get_runtime_context().current_actor)
            time.sleep(30)
        return {"value": self.value}

    def _save(self, checkpoint_dir):
        return {"value": self.value}

    def _restore(self, state):
        self.value = state["value"]


@pytest.mark.parametrize("how", ["exit", "ray_kill"])
def test_dead_trial_process_restarts_from_checkpoint(how, tune_env, tmp_path):
    [trial] = tuneflows.run_experiments({
        f"dies_{how}": {
            "run": DiesOnce,
            "config": {"marker": str(tmp_path / "died"), "how": how},
            "stop": {"training_iteration": 8},
            "checkpoint_freq": 2,
            "max_failures": 2,
        }
    }, verbose=False)
    assert os.path.exists(tmp_path / "died")
    assert trial.status == TERMINATED and trial.num_failures == 1
    assert trial.last_result["value"] == 8  # restored from the checkpoint at 4, not restarted
    assert _iterations(trial.logdir) == list(range(1, 9))
    events = [json.loads(l) for l in open(os.path.join(trial.logdir, "events.json"))]
    assert any(e["event"] == "restart" for e in events)


class Steady(tuneflows.Trainable):
    def _setup(self, config):
        self.value = 0.0

    def _train(self):
        self.value += self.config.get("rate", 1.0)
        return {"score": self.value}

    def _save(self, checkpoint_dir):
        return {"value": self.value}

    def _restore(self, state):
        self.value = state["value"]


def test_keep_checkpoints_num_and_mlflow_artifacts(tune_env):
    from mlflow.tracking import MlflowClient

    [trial] = tuneflows.run_experiments({
        "keep_two": {
            "run": Steady,
            "stop": {"training_iteration": 6},
            "checkpoint_freq": 1,
            "keep_checkpoints_num": 2,
        }
    }, verbose=False)
    kept = sorted(d for d in os.listdir(trial.logdir) if d.startswith("checkpoint_"))
    assert kept == ["checkpoint_000005", "checkpoint_000006"]
    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    exp = client.get_experiment_by_name("keep_two")
    [run] = client.search_runs([exp.experiment_id], filter_string=f"tags.trial_id = '{trial.trial_id}'")
    logged = {a.path for a in client.list_artifacts(run.info.run_id, "checkpoints")}
    assert {"checkpoints/checkpoint_000005", "checkpoints/checkpoint_000006"} <= logged


def test_restore_starts_trials_from_a_checkpoint(tune_env):
    [first] = tuneflows.run_experiments({
        "restore_source": {"run": Steady, "stop": {"training_iteration": 3}, "checkpoint_at_end": True}
    }, verbose=False)
    checkpoint = os.path.join(first.logdir, "checkpoint_000003")
    [second] = tuneflows.run_experiments({
        "restore_target": {"run": Steady, "stop": {"training_iteration": 5}, "restore": checkpoint}
    }, verbose=False)
    assert second.last_result["score"] == 5.0
    assert _iterations(second.logdir) == [4, 5]


def test_a_rerun_is_a_new_run_and_resume_picks_one(tune_env):
    spec = {"twice": {"run": Steady, "stop": {"training_iteration": 2}}}
    [first] = tuneflows.run_experiments(spec, verbose=False)
    [second] = tuneflows.run_experiments(spec, verbose=False)  # as the seed re-ran: afresh
    first_run = os.path.dirname(first.logdir)
    assert os.path.dirname(second.logdir) == tuneflows.latest_run_dir(tune_env, "twice")
    assert os.path.dirname(second.logdir) > first_run
    assert _iterations(first.logdir) == _iterations(second.logdir) == [1, 2]
    # nothing unfinished to resume: resume=True says so, "AUTO" starts a new run
    with pytest.raises(ValueError, match="resume=True: experiment 'twice' has no unfinished run"):
        tuneflows.run_experiments(spec, verbose=False, resume=True)
    [third] = tuneflows.run_experiments(spec, verbose=False, resume="AUTO")
    assert os.path.dirname(third.logdir) == tuneflows.latest_run_dir(tune_env, "twice")
    assert len({os.path.dirname(t.logdir) for t in (first, second, third)}) == 3
    # a run id continues that run: it had finished, so nothing runs again
    [again] = tuneflows.run_experiments(spec, verbose=False, resume=os.path.basename(first_run))
    assert again.status == TERMINATED and again.logdir == first.logdir
    assert _iterations(again.logdir) == [1, 2]


DRIVER = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "slow_checkpointed.py")


def _env(local_dir: str) -> dict:
    from prefect.settings import PREFECT_API_URL

    return dict(os.environ, TUNE_RESULT_DIR=local_dir, PREFECT_API_URL=PREFECT_API_URL.value())


def test_sigkilled_driver_resumes_to_the_same_results(tune_env, tmp_path):
    script = os.path.abspath(DRIVER)
    exp_dir = os.path.join(tune_env, "killed")  # its one run is resumed by experiment directory
    proc = subprocess.Popen([sys.executable, str(script), "killed"], env=_env(tune_env),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.time() + 240
    while count_results(exp_dir) < 50 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    rows_at_kill = count_results(exp_dir)
    assert 0 < rows_at_kill < 120

    resumed = subprocess.run(
        [sys.executable, "-m", "tuneflows.cli", "resume", exp_dir], env=_env(tune_env),
        capture_output=True, text=True, timeout=300,
    )
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]

    # Prefect: the killed driver's flow run is not left Running; the resume's completed
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterName

    with get_client(sync_client=True) as client:
        runs = sorted(client.read_flow_runs(flow_run_filter=FlowRunFilter(
            name=FlowRunFilterName(any_=["killed"]))), key=lambda r: r.created)
    assert [r.state.type.value for r in runs] == ["CRASHED", "COMPLETED"]
    assert runs[0].state.message == (
        "Its driver stopped without ending it (killed, or its machine was lost); "
        f"flow run {runs[1].id} resumed the experiment.")
    with get_client(sync_client=True) as client:  # its rounds that were playing end too
        rounds = client.read_task_runs(flow_run_filter=FlowRunFilter(
            id=FlowRunFilterId(any_=[runs[0].id])))
    assert rounds and all(r.state.is_final() for r in rounds), [
        (r.name, r.state.type) for r in rounds if not r.state.is_final()]

    done = subprocess.run([sys.executable, str(script), "uninterrupted"], env=_env(tune_env),
                          capture_output=True, text=True, timeout=300)
    assert "DRIVER DONE" in done.stdout, done.stderr[-3000:]

    def finals(name):
        out = {}
        base = tuneflows.latest_run_dir(tune_env, name)
        for entry in os.listdir(base):
            path = os.path.join(base, entry, "result.json")
            if os.path.exists(path):
                rows = [json.loads(l) for l in open(path)]
                out[rows[0]["config"]["rate"]] = ([r["training_iteration"] for r in rows],
                                                  [r["total"] for r in rows])
        return out

    killed, clean = finals("killed"), finals("uninterrupted")
    assert sorted(killed) == sorted(clean) == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    for rate in clean:
        assert killed[rate][0] == list(range(1, 21))  # no duplicated or missing iteration
        assert killed[rate][1] == pytest.approx(clean[rate][1])

    from mlflow.tracking import MlflowClient

    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    exp = client.get_experiment_by_name("killed")
    children = [r for r in client.search_runs([exp.experiment_id])
                if "mlflow.parentRunId" in r.data.tags]
    assert len(children) == 6
    for run in children:
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "total")]
        assert sorted(steps) == list(range(1, 21))


class FailsOnceScheduler(tuneflows.schedulers.FIFOScheduler):
    """Raises the first time any trial reaches iteration 3: the flow run fails."""

    raised = False

    def on_trial_result(self, trial, result):
        if result["training_iteration"] == 3 and not FailsOnceScheduler.raised:
            FailsOnceScheduler.raised = True
            raise RuntimeError("scheduler bug")
        return super().on_trial_result(trial, result)


def test_prefect_retry_of_the_flow_run_resumes(tune_env):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    trials = tuneflows.run_experiments({
        "retried": {
            "run": Steady,
            "config": {"rate": tuneflows.grid_search([1.0, 2.0])},
            "stop": {"training_iteration": 6},
            "checkpoint_freq": 1,
        }
    }, scheduler=FailsOnceScheduler(), verbose=False, flow_retries=1, round_seconds=0.0)
    assert FailsOnceScheduler.raised
    assert [t.status for t in trials] == [TERMINATED, TERMINATED]
    for trial in trials:
        assert _iterations(trial.logdir) == list(range(1, 7))
        assert trial.last_result["score"] == 6 * trial.config["rate"]
    with get_client(sync_client=True) as client:
        [run] = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=["retried"])))
    assert run.state.is_completed() and run.run_count == 2


def fails_while_marker_exists(config, reporter):
    for i in range(1, 4):
        if config["fragile"] and os.path.exists(config["marker"]):
            raise RuntimeError("marker present")
        reporter(step=i)


def test_resume_errored_only_reruns_just_the_failed_trials(tune_env, tmp_path):
    marker = tmp_path / "broken"
    marker.touch()
    spec = {"errored_only": {
        "run": fails_while_marker_exists,
        "config": {"fragile": tuneflows.grid_search([False, True]), "marker": str(marker)},
        "max_failures": 0,
    }}
    first = tuneflows.run_experiments(spec, verbose=False, raise_on_failed_trial=False)
    assert [t.status for t in first] == ["TERMINATED", "ERROR"]
    marker.unlink()
    second = tuneflows.run_experiments(spec, verbose=False, resume="ERRORED_ONLY")
    assert [t.status for t in second] == ["TERMINATED", "TERMINATED"]
    assert [t.trial_id for t in second] == [t.trial_id for t in first]
    for trial in second:
        assert _iterations(trial.logdir) == [1, 2, 3]
