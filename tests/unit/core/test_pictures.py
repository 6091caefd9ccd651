"""The pictures' pure parts: parameter importances (the parameter that matters ranks
first), the trials' histories and decisions read from trial files, the picture pages
(log axes for log-uniform parameters, decisions marked on the learning curves)."""

import doctest
import importlib
import json
import math
import os
import random

import pytest

import tuneflows
from tuneflows.recording.pictures.figures import learning_curves, metric_by_parameter, optimization_history
from tuneflows.recording.pictures.histories import Decision, TrialHistory, read_histories
from tuneflows.recording.pictures.importances import parameter_importances
from tuneflows.recording.pictures.pages import (
    IMPORTANCES_FILE, PAGES, Pictures, log_parameters, search_space_scales, write_pictures,
)


def objective_trials(n=60, seed=0):
    """lr (log-uniform) decides the metric; momentum and the activation do not."""
    rng = random.Random(seed)
    configs = [{"lr": 10 ** rng.uniform(-5, -1), "momentum": rng.uniform(0, 1),
                "net": {"act": rng.choice(["relu", "tanh"])}} for _ in range(n)]
    values = [1 - abs(math.log10(c["lr"]) + 3) / 4 + 0.01 * rng.random() for c in configs]
    return configs, values


def test_the_parameter_that_matters_ranks_first():
    configs, values = objective_trials()
    importances = parameter_importances(configs, values, log_params=["lr"])
    assert list(importances)[0] == "lr"
    assert importances["lr"] > 0.8
    assert set(importances) == {"lr", "momentum", "net/act"}
    assert sum(importances.values()) == pytest.approx(1.0)
    # the same trials give the same importances (the forest is seeded)
    assert parameter_importances(configs, values, log_params=["lr"]) == importances


def test_importances_leave_out_what_cannot_be_compared():
    configs, values = objective_trials(n=10)
    assert parameter_importances(configs[:1], values[:1]) == {}
    # trials without a value are left out; a constant parameter is not ranked
    fixed = [{**c, "eta0": 0.05} for c in configs]
    assert "eta0" not in parameter_importances(fixed, values[:-1] + [float("nan")])
    assert parameter_importances([{"lr": c["lr"]} for c in configs], values) == {"lr": 1.0}
    assert parameter_importances(configs, [0.5] * len(configs)) == {}


def write_trial(root, name, config, results, events):
    path = os.path.join(root, name)
    os.makedirs(path)
    with open(os.path.join(path, "params.json"), "w") as f:
        json.dump(config, f)
    with open(os.path.join(path, "result.json"), "w") as f:
        for result in results:
            f.write(json.dumps({"trial_id": name, **result}) + "\n")
    with open(os.path.join(path, "events.json"), "w") as f:
        for event in events:
            f.write(json.dumps(event) + "\n")


def test_histories_carry_curves_and_decisions(tmp_path):
    root = str(tmp_path)
    write_trial(root, "t0", {"lr": 0.1}, [
        {"training_iteration": i, "acc": 0.1 * i} for i in (1, 2, 3)], [
        {"event": "pause", "iteration": 1, "reason": "rung 1"},
        {"event": "perturb", "iteration": 2, "reason": "exploit t1"},
        {"event": "terminated", "iteration": 3, "reason": "cutoff 0.5", "time": 20.0,
         "early_stopped": True}])
    write_trial(root, "t1", {"lr": 0.01}, [{"training_iteration": 1, "acc": 0.7}],
                [{"event": "restart", "iteration": 1, "reason": "boom"}])
    write_trial(root, "t2", {"lr": 0.2}, [{"training_iteration": 1, "acc": 0.9}],
                [{"event": "terminated", "iteration": 1, "reason": "done", "time": 5.0}])
    first, second, third = read_histories(root, "acc")
    assert first.curve[:3] == [(1, 0.1), (2, 0.2), (3, pytest.approx(0.3))]
    assert [(d.kind, d.iteration) for d in first.decisions] == [
        ("pause", 1), ("perturb", 2), ("stop", 3)]
    assert first.ended_at == 20.0 and first.final == pytest.approx(0.3)
    assert second.ended_at is None and [d.kind for d in second.decisions] == ["restart"]
    assert third.ended_at == 5.0 and third.decisions == []  # completed: nothing marked


def histories():
    configs, values = objective_trials(n=30)
    found = []
    for i, (config, value) in enumerate(zip(configs, values)):
        steps = 3 if i % 3 else 9
        decisions = [Decision("stop", 3, "below the cutoff")] if steps == 3 else []
        if i == 1:
            decisions.insert(0, Decision("pause", 1, "rung 1"))
        found.append(TrialHistory(f"t{i}", f"{i}_lr={config['lr']:.2g}", config, "TERMINATED",
                                  [(k, value * k / steps) for k in range(1, steps + 1)],
                                  decisions, ended_at=float(30 - i)))
    return found


def test_history_is_in_the_order_trials_ended_with_the_best_so_far():
    trials = histories()
    fig = optimization_history(trials, "acc", "max")
    ended_order = sorted(trials, key=lambda t: t.ended_at)
    assert list(fig.data[0].y) == [t.final for t in ended_order]
    best = fig.data[1].y
    assert all(b2 >= b1 for b1, b2 in zip(best, best[1:]))
    assert best[-1] == max(t.final for t in trials)
    low = optimization_history(trials, "acc", "min").data[1].y
    assert low[-1] == min(t.final for t in trials)


def test_learning_curves_mark_each_decision():
    trials = histories()
    fig = learning_curves(trials, "acc")
    names = [trace.name for trace in fig.data]
    assert names == ["trials", "stopped early (20)", "paused (1)"]
    stops = fig.data[1]
    assert set(stops.x) == {3}
    assert any(shape.x0 == 3 for shape in fig.layout.shapes)  # the rung's dotted line


def test_log_uniform_parameters_get_log_axes(tmp_path):
    space = {"lr": tuneflows.loguniform(1e-5, 1e-1), "momentum": tuneflows.uniform(0, 1),
             "net": {"act": tuneflows.choice(["relu", "tanh"])}}
    scales = search_space_scales(space)
    assert scales == {"lr": "log", "momentum": "linear"}
    trials = histories()
    assert log_parameters([t.config for t in trials], scales) == ["lr"]
    fig = metric_by_parameter(trials, "acc", ["lr", "momentum", "net/act"], ["lr"])
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis2.type != "log"
    made = write_pictures(trials, "acc", "max", str(tmp_path), scales)
    assert list(made.importances)[0] == "lr"
    assert sorted(os.listdir(tmp_path)) == sorted([*PAGES, IMPORTANCES_FILE])
    assert Pictures.read(str(tmp_path)) == made
    page = (tmp_path / "learning_curves.html").read_text()
    assert "stopped early (20)" in page and "plotly" in page


@pytest.mark.parametrize("module", ["tuneflows.recording.pictures.importances", "tuneflows.recording.pictures.figures",
                                    "tuneflows.recording.pictures.histories", "tuneflows.recording.pictures.pages"])
def test_docstring_examples_run(module):
    failed, _ = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert failed == 0


def test_analysis_ranks_the_parameter_that_matters_first(tmp_path):
    from tuneflows.analysis import Analysis

    configs, values = objective_trials(n=30, seed=1)
    for i, (config, value) in enumerate(zip(configs, values)):
        write_trial(str(tmp_path), f"t{i:02d}", config,
                    [{"training_iteration": 1, "acc": value}],
                    [{"event": "terminated", "iteration": 1, "reason": "done", "time": i}])
    importances = Analysis(str(tmp_path), metric="acc", mode="max").importances()
    assert list(importances)[0] == "lr"
    with pytest.raises(ValueError, match="No metric"):
        Analysis(str(tmp_path)).importances()


def test_the_child_draws_each_job_and_the_end_waits_at_most_the_deadline(tmp_path, caplog,
                                                                           monkeypatch):
    from tuneflows.recording.pictures.publish import PicturesJob
    from tuneflows.recording.pictures.refresher import PicturesRefresher

    configs, values = objective_trials(n=30)
    for i, (config, value) in enumerate(zip(configs, values)):
        write_trial(str(tmp_path / "run"), f"t{i:02d}", config,
                    [{"training_iteration": 1, "acc": value}],
                    [{"event": "terminated", "iteration": 1, "reason": "done", "time": i}])
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    job = PicturesJob(str(tmp_path / "run"), "acc", "max", "exp", "x",
                      "http://127.0.0.1:9", {"lr": "log"})  # a store that is down: files only
    refresher = PicturesRefresher(job, interval_s=3600)
    refresher.start()
    made = refresher.finish()
    assert list(made["importances"])[0] == "lr" and made["mlflow_run_id"] is None
    assert sorted(os.listdir(tmp_path / "run" / "pictures")) == sorted([*PAGES, IMPORTANCES_FILE])
    assert refresher.finish() is None  # the child has ended

    slow = PicturesRefresher(job, interval_s=3600, deadline_s=0.001)
    slow.start()
    assert slow.finish() is None
    assert "longer than the deadline (TUNEFLOWS_PICTURES_DEADLINE_S)" in caplog.text
