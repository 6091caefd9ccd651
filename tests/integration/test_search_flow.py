"""Search algorithms end to end on real Ray + Prefect (the ``tune_env`` fixture).

The seed's ``HyperOptScheduler`` example, ``HyperOptSearch`` under a concurrency limit,
TPE with ASHA (the BOHB idea), failures reported to the searcher as failures, a metric
the trainable never reports, bad input rejected before any trial starts, and suggested
trials recorded in MLflow as nested runs like any other trial.
"""

from __future__ import annotations

import json
import os
import sys
import time

import pytest
import ray.cloudpickle
from hyperopt import STATUS_FAIL, STATUS_OK, hp

import tuneflows
from tuneflows.hpo_scheduler import HyperOptScheduler
from tuneflows.schedulers import AsyncHyperBandScheduler
from tuneflows.search import HyperOptSearch, loguniform, uniform
from tuneflows.trial import ERROR, TERMINATED

# pytest imports this file from a path Ray's workers do not have: ship by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

MAX_T = 9


def _results(trial):
    with open(os.path.join(trial.logdir, "result.json")) as f:
        return [json.loads(line) for line in f if line.strip()]


def _doc(searcher, trial_id):
    """The hyperopt trial document behind ``trial_id`` (searcher internals; failed
    documents are only in ``_dynamic_trials``: ``Trials.trials`` leaves them out)."""
    tid = searcher._tid[trial_id]
    [doc] = [d for d in searcher._tpe_trials()._dynamic_trials if d["tid"] == tid]
    return doc


# ---------------------------------------------------------------- seed example


def hpo_exp(config, reporter):
    for _ in range(3):
        reporter(episode_reward_mean=-(config["param"] - 10) ** 2)


def test_seed_hyperopt_scheduler_example_with_mlflow_nested_runs(tune_env):
    from mlflow.tracking import MlflowClient

    tuneflows.register_trainable("hpo_exp", hpo_exp)
    space = {"param": hp.uniform("param", 0, 20)}
    config = {"hpo_seed": {"run": "hpo_exp", "repeat": 5, "config": {"space": space}}}
    trials = tuneflows.run_experiments(config, scheduler=HyperOptScheduler(), verbose=False)

    assert len(trials) == 5
    params = set()
    for trial in trials:
        assert trial.status == TERMINATED, (trial.name, trial.error_msg)
        assert 0 <= trial.config["param"] <= 20
        assert "space" not in trial.config
        assert trial.last_result["training_iteration"] == 3
        assert trial.last_result["episode_reward_mean"] == pytest.approx(
            -(trial.config["param"] - 10) ** 2)
        params.add(trial.config["param"])
    assert len(params) == 5  # drawn from the space, not repeated
    # the results came from Ray unpickled: their keys are one string object each in the driver
    keys = [k for trial in trials for k in trial.last_result]
    assert len({id(k) for k in keys}) == len(set(keys))

    # Suggested trials are nested MLflow runs like any other trial.
    client = MlflowClient(tracking_uri=os.environ["MLFLOW_TRACKING_URI"])
    experiment = client.get_experiment_by_name("hpo_seed")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 5
    assert parents[0].data.tags["tuneflows.searcher"] == "HyperOptSearch"  # not its wrapper
    assert parents[0].data.params["searcher"] == "HyperOptSearch"
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    logged = sorted(float(c.data.params["param"]) for c in children)
    assert logged == pytest.approx(sorted(params))
    assert all(c.info.status == "FINISHED" for c in children)
    assert all("episode_reward_mean" in c.data.metrics for c in children)


# ---------------------------------------------------------------- concurrency


def timed(config, reporter):
    started = time.time()
    for _ in range(4):
        time.sleep(0.05)
        reporter(loss=(config["x"] - 0.3) ** 2, started=started, now=time.time())


def test_hyperopt_search_max_concurrent_two(tune_env):
    searcher = HyperOptSearch({"x": uniform(0, 1)}, metric="loss", mode="min",
                              max_concurrent=2, n_initial_points=3, random_state_seed=0)
    # Half a CPU per trial: 4 slots on the 2-CPU session, so only the searcher limits.
    trials = tuneflows.run_experiments({
        "tpe_concurrent": {"run": timed, "num_samples": 6,
                           "resources_per_trial": {"cpu": 0.5, "gpu": 0}},
    }, search_alg=searcher, verbose=False)
    assert len(trials) == 6
    assert all(t.status == TERMINATED for t in trials)
    spans = []
    for trial in trials:
        rows = _results(trial)
        assert len(rows) == 4
        spans.append((rows[0]["started"], rows[-1]["now"]))
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans],
                    key=lambda ev: (ev[0], ev[1]))  # an end before a start at a tie
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    assert peak == 2, spans
    # The searcher saw every trial complete with a score.
    assert all(_doc(searcher, t.trial_id)["result"]["status"] == STATUS_OK for t in trials)
    assert searcher.best_result()["value"] == pytest.approx(
        min(t.last_result["loss"] for t in trials))


# ---------------------------------------------------------------- TPE + ASHA


def curve(config, reporter):
    import math

    for step in range(1, MAX_T + 1):
        time.sleep(0.003)
        reporter(acc=1 - math.exp(-config["rate"] * step / 4))


def test_tpe_with_asha_learns_from_stopped_trials(tune_env):
    # Two fast learners first fill ASHA's rungs, then two slow ones are cut at rung 1.
    searcher = HyperOptSearch({"rate": loguniform(0.01, 3.0)}, n_initial_points=4,
                              random_state_seed=0,
                              points_to_evaluate=[{"rate": 2.5}, {"rate": 2.0},
                                                  {"rate": 0.02}, {"rate": 0.01}])
    scheduler = AsyncHyperBandScheduler(metric="acc", mode="max", max_t=MAX_T, grace_period=1,
                                        reduction_factor=3, brackets=1, seed=0)
    trials = tuneflows.run_experiments({
        "tpe_asha": {"run": curve, "num_samples": 10, "stop": {"training_iteration": MAX_T}},
    }, scheduler=scheduler, search_alg=searcher, verbose=False)

    assert len(trials) == 10
    assert all(t.status == TERMINATED for t in trials), [(t.name, t.status) for t in trials]
    assert searcher.metric == "acc" and searcher.mode == "max"  # taken from the scheduler
    early = [t for t in trials if t.iteration < MAX_T]
    full = [t for t in trials if t.iteration == MAX_T]
    assert early and full, [(t.config, t.iteration) for t in trials]
    by_rate = {t.config["rate"]: t for t in trials}
    assert by_rate[0.01].iteration < MAX_T and by_rate[0.02].iteration < MAX_T
    for trial in early:
        doc = _doc(searcher, trial.trial_id)
        # Told, as an observation at a lower budget, not as a finished score.
        assert doc["result"]["status"] == STATUS_OK
        assert doc["result"]["early_stopped"] is True
        assert doc["result"]["budget"] == trial.iteration
    for trial in full:
        doc = _doc(searcher, trial.trial_id)
        assert doc["result"]["early_stopped"] is False
        assert doc["result"]["metric_value"] == pytest.approx(trial.last_result["acc"])
    best = searcher.best_result()
    assert best["trial_id"] in {t.trial_id for t in full}
    assert best["value"] == pytest.approx(max(t.last_result["acc"] for t in full))


# ---------------------------------------------------------------- failures


def fragile(config, reporter):
    for step in range(1, 4):
        if config["x"] < 0.2 and step == 2:
            raise RuntimeError("diverged")
        reporter(score=config["x"])


def test_failed_trial_is_reported_to_the_searcher_as_a_failure(tune_env):
    searcher = HyperOptSearch({"x": uniform(0, 1)}, metric="score", mode="max",
                              random_state_seed=0, n_initial_points=2,
                              points_to_evaluate=[{"x": 0.1}, {"x": 0.9}])
    trials = tuneflows.run_experiments({
        "tpe_failure": {"run": fragile, "num_samples": 4, "max_failures": 0},
    }, search_alg=searcher, verbose=False, raise_on_failed_trial=False)

    assert len(trials) == 4
    [failed] = [t for t in trials if t.config["x"] == pytest.approx(0.1)]
    assert failed.status == ERROR and "diverged" in failed.error_msg
    doc = _doc(searcher, failed.trial_id)
    assert doc["result"]["status"] == STATUS_FAIL
    assert "loss" not in doc["result"]  # never scored, though it reported score=0.1 once
    # ... and left out of the observations TPE models.
    assert doc["tid"] not in {d["tid"] for d in searcher._tpe_trials().trials}
    assert [r["score"] for r in _results(failed)] == [pytest.approx(0.1)]
    for trial in trials:
        if trial is not failed and trial.status == TERMINATED:
            assert _doc(searcher, trial.trial_id)["result"]["status"] == STATUS_OK
    assert searcher.best_result()["trial_id"] != failed.trial_id


def fails_while_marked(config, reporter):
    if config["x"] == 0.1 and os.path.exists(config["marker"]):  # the first point only
        raise RuntimeError("marker present")
    reporter(score=config["x"])


def test_a_tpe_run_resumed_reads_its_searcher_back_from_the_state_logs(tune_env, tmp_path):
    """ERRORED_ONLY resume of a TPE experiment: the searcher comes back from the state's
    logs (a record a settled trial, appended once) exactly as the first run left it, and
    learns the failed trial's new result."""
    marker = tmp_path / "broken"
    marker.touch()

    def search():
        return HyperOptSearch({"x": uniform(0, 1)}, metric="score", mode="max",
                              random_state_seed=0, n_initial_points=2,
                              points_to_evaluate=[{"x": 0.1}, {"x": 0.9}])

    spec = {"tpe_resumed": {"run": fails_while_marked, "num_samples": 4, "max_failures": 0,
                            "config": {"marker": str(marker)}}}
    first_search = search()
    first = tuneflows.run_experiments(spec, search_alg=first_search, verbose=False,
                                      raise_on_failed_trial=False)
    assert [t.status for t in first].count(ERROR) == 1
    run_dir = tuneflows.latest_run_dir(tune_env, "tpe_resumed")
    with open(os.path.join(run_dir, "experiment_state.json")) as f:
        written = json.load(f)["searcher_state"]["searcher"]  # under its TrialLimiter
    assert written["settled"]["items"] == 4  # a reference to the log, not the documents
    with open(os.path.join(run_dir, written["settled"]["__state_log__"])) as f:
        assert len(f.read().splitlines()) == 4

    marker.unlink()
    second_search = search()
    second = tuneflows.run_experiments(spec, search_alg=second_search, verbose=False,
                                       resume="ERRORED_ONLY")
    assert [t.trial_id for t in second] == [t.trial_id for t in first]
    assert all(t.status == TERMINATED for t in second)
    before = json.loads(json.dumps(first_search.get_state()["settled"]))
    after = second_search.get_state()["settled"]
    assert after[:4] == before and len(after) == 5  # read back exactly; the rerun's record
    [rerun] = [t for t in second if t.config["x"] == pytest.approx(0.1)]
    assert _doc(second_search, rerun.trial_id)["result"]["status"] == STATUS_OK
    assert second_search.best_result()["value"] == pytest.approx(
        max(t.last_result["score"] for t in second))


# ---------------------------------------------------------------- bad input


def reports_acc(config, reporter):
    for _ in range(3):
        reporter(acc=config["x"], other=1)


def test_metric_never_reported_names_the_metric_and_the_reported_keys(tune_env):
    searcher = HyperOptSearch({"x": uniform(0, 1)}, metric="accuracy", mode="max",
                              random_state_seed=0)
    # The searcher raises at the first result; run_experiments re-raises that ValueError
    # once the flow has stopped the trials and flushed the records.
    with pytest.raises(ValueError) as info:
        tuneflows.run_experiments({"tpe_no_metric": {"run": reports_acc, "num_samples": 2}},
                                  search_alg=searcher, verbose=False)
    message = str(info.value)
    assert message.startswith("HyperOptSearch optimises metric 'accuracy'"), message
    assert "'accuracy'" in message
    assert "acc" in message.replace("'accuracy'", "") and "other" in message
    # The first result, which revealed the problem, is kept on disk.
    exp_dir = tuneflows.latest_run_dir(tune_env, "tpe_no_metric")
    rows = []
    for name in os.listdir(exp_dir):
        path = os.path.join(exp_dir, name, "result.json")
        if os.path.exists(path):
            rows += [json.loads(line) for line in open(path) if line.strip()]
    assert rows and rows[0]["acc"] == pytest.approx(rows[0]["config"]["x"])


def _no_trial_started(local_dir, name):
    exp_dir = os.path.join(local_dir, name)
    return not os.path.exists(exp_dir) or not [
        entry for entry in os.listdir(exp_dir) if not entry.startswith(".tuneflows")]


@pytest.mark.parametrize("make", [
    lambda: HyperOptSearch({"x": uniform(0, 1)}, metric="loss", mode="minimize"),
    lambda: AsyncHyperBandScheduler(metric="loss", mode="best"),
    lambda: uniform(1.0, 0.5),
    lambda: uniform(1.0, 1.0),
    lambda: loguniform(0.0, 1.0),
    lambda: tuneflows.quniform(3, 1, 1),
], ids=["searcher_mode", "scheduler_mode", "uniform_low_gt_high", "uniform_low_eq_high",
        "loguniform_low_zero", "quniform_low_gt_high"])
def test_bad_mode_and_bounds_rejected_when_built(make):
    with pytest.raises(ValueError):
        make()


def test_bad_input_fails_before_any_trial_starts(tune_env):
    # The experiment's mode reaches the searcher through set_search_properties.
    scheduler = AsyncHyperBandScheduler(metric="loss", mode="min")
    scheduler.mode = "minimise"  # as a hand-rolled scheduler might carry it
    with pytest.raises(ValueError, match="mode must be 'max' or 'min'"):
        tuneflows.run_experiments({"bad_mode": {"run": reports_acc, "config": {"x": 0.5}}},
                                  scheduler=scheduler, search_alg=HyperOptSearch(
                                      {"x": uniform(0, 1)}), verbose=False)
    assert _no_trial_started(tune_env, "bad_mode")

    # An empty space: nothing to search.
    with pytest.raises(ValueError, match="nothing to search"):
        tuneflows.run_experiments({"empty_space": {"run": reports_acc, "config": {"x": 0.5}}},
                                  search_alg=HyperOptSearch(metric="acc", mode="max"),
                                  verbose=False)
    assert _no_trial_started(tune_env, "empty_space")

    # A grid in a TPE space, named.
    with pytest.raises(ValueError, match="grid_search at 'x'"):
        tuneflows.run_experiments({"grid_tpe": {
            "run": reports_acc, "config": {"x": tuneflows.grid_search([0.1, 0.2])}}},
            search_alg=HyperOptSearch(metric="acc", mode="max"), verbose=False)
    assert _no_trial_started(tune_env, "grid_tpe")

    # Native hp.* bounds are only checked by hyperopt when sampling: the first suggestion
    # fails, before any trial is created.
    with pytest.raises(ValueError, match="low should be less than high"):
        tuneflows.run_experiments({"hp_bounds": {"run": reports_acc, "num_samples": 2}},
                                  search_alg=HyperOptSearch({"x": hp.uniform("x", 5, 1)},
                                                            metric="acc", mode="max"),
                                  verbose=False)
    assert _no_trial_started(tune_env, "hp_bounds")

    # The seed scheduler without config["space"].
    with pytest.raises(ValueError, match=r"config\['space'\]"):
        tuneflows.run_experiments({"no_space": {"run": reports_acc, "config": {"x": 0.5}}},
                                  scheduler=HyperOptScheduler(), verbose=False)
    assert _no_trial_started(tune_env, "no_space")
