"""The CLI's errors: one line on stderr in its own words, exit code 2, before any
trial starts (no Ray, Prefect or MLflow is reached)."""

import os
import re

import pytest

from tuneflows.cli import main

SPEC = """
cli_unit:
  run: flows.quickstart:train_func
  config: {lr: 0.1, momentum: 0.1}
"""


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    return str(path)


@pytest.mark.parametrize("argv, message", [
    (["run", "{spec}", "--scheduler", "asha"], "scheduler 'asha' needs the result key"),
    (["run", "{spec}", "--scheduler", "bogus", "--metric", "m"], "Unknown scheduler 'bogus'"),
    (["run", "{spec}", "--search", "hyperopt"], "search algorithm 'hyperopt' needs"),
    (["run", "{spec}", "--num-samples", "0"], "--num-samples must be at least 1"),
    (["run", "/nonexistent/spec.yaml"], "No such file"),
    (["best", "/nonexistent/dir"], "'/nonexistent/dir' is not a directory"),
    (["best", "{dir}"], "holds no tuneflows experiment run"),
    (["resume", "{dir}"], "holds no tuneflows experiment state to resume"),
    (["resume", "no_such_experiment"], "no_such_experiment' is not a directory"),
    (["ls", "/nonexistent/dir"], "is not a directory"),
])
def test_errors_are_one_line_with_exit_code_2(spec, capsys, argv, message):
    argv = [a.format(spec=spec, dir=os.path.dirname(spec)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_resume_flag_takes_an_optional_mode(spec):
    from tuneflows.cli.main import build_parser

    parser = build_parser()
    assert parser.parse_args(["run", spec, "--resume"]).resume is True
    assert parser.parse_args(["run", spec, "--resume", "auto"]).resume == "AUTO"
    assert parser.parse_args(["run", spec]).resume is False
    with pytest.raises(SystemExit):
        parser.parse_args(["run", spec, "--resume", "sometimes"])


@pytest.fixture
def no_experiment(monkeypatch):
    """``run_experiments`` refusing to start: a spec error must be caught before it."""
    def refuse(*args, **kwargs):
        raise AssertionError("an experiment was started")

    monkeypatch.setattr("tuneflows.run_experiments", refuse)


def _one_line_error(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    return err


@pytest.mark.parametrize("run, messages", [
    ("no_such_module_xyz:train", ["run 'no_such_module_xyz:train'",
                                  "cannot import module 'no_such_module_xyz'",
                                  "current directory", "PYTHONPATH"]),
    ("flows.no_such_flow:train", ["cannot import module 'flows.no_such_flow'"]),
    ("flows.quickstart:train_fnuc", ["module 'flows.quickstart' has no attribute 'train_fnuc' "
                                     "(did you mean 'train_func'?)"]),
])
def test_a_run_path_that_does_not_import_is_one_line(tmp_path, capsys, monkeypatch, no_experiment,
                                                     run, messages):
    monkeypatch.setattr("sys.path", list(os.sys.path))
    path = tmp_path / "spec.yaml"
    path.write_text(f"cli_unit:\n  run: {run}\n")
    err = _one_line_error(["run", str(path)], capsys)
    assert all(m in err for m in messages), err


def test_a_run_module_missing_a_dependency_names_both(tmp_path, capsys, monkeypatch,
                                                       no_experiment):
    monkeypatch.setattr("sys.path", list(os.sys.path))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cli_unit_needs_dep.py").write_text("import no_such_dependency_xyz\n")
    (tmp_path / "spec.yaml").write_text("cli_unit:\n  run: cli_unit_needs_dep:train\n")
    err = _one_line_error(["run", "spec.yaml"], capsys)
    assert ("importing module 'cli_unit_needs_dep' failed: No module named "
            "'no_such_dependency_xyz'") in err


@pytest.mark.parametrize("text, where", [
    ("cli_unit:\n  run: flows.quickstart:train_func\n  config: {lr: 0.1\n  momentum: 2\n",
     "line 4, column 11"),
    ("cli_unit:\n  run: flows.quickstart:train_func\n   stop: 3\n", "line 3, column 8"),
])
def test_malformed_yaml_is_one_line_with_file_line_and_column(tmp_path, capsys, no_experiment,
                                                              text, where):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    err = _one_line_error(["run", str(path)], capsys)
    assert f"{path}, {where}: not valid YAML" in err, err


def test_a_misspelled_domain_is_refused_before_any_trial(tmp_path, capsys, no_experiment):
    path = tmp_path / "spec.yaml"
    path.write_text("cli_unit:\n  run: flows.quickstart:train_func\n"
                    "  config: {lr: {unifrom: [0.1, 0.6]}}\n")
    err = _one_line_error(["run", str(path)], capsys)
    assert "cli_unit: config['lr']: unknown search-space domain 'unifrom' " \
           "(did you mean 'uniform'?)" in err


# ------------------------------------------------------------- which run a command reads
OLD_RUN, NEW_RUN = "2025-06-01_03-00-00_0001", "2025-06-02_03-00-00_0001"


def _trial(trial_id, lr, accuracy):
    return {"trial_id": trial_id, "experiment_tag": trial_id, "logdir": "", "config": {"lr": lr},
            "status": "TERMINATED", "trainable_name": "train", "last_result": {
                "mean_accuracy": accuracy, "pid": 7, "timestamp": 1, "training_iteration": 3,
                "hostname": "vm", "done": True}}


@pytest.fixture
def results(tmp_path, monkeypatch):
    """A results directory (``TUNE_RESULT_DIR``) with experiment ``exp``: two runs (the
    newest's best lr is 0.2), and experiment ``no_state`` whose one run holds no state."""
    from tuneflows.runs.state import ExperimentState, save_state

    root = tmp_path / "results"
    for run_id, best_lr in ((OLD_RUN, 0.1), (NEW_RUN, 0.2)):
        directory = root / "exp" / run_id
        directory.mkdir(parents=True)
        trials = [_trial("t1", best_lr, 0.9), _trial("t2", 0.5, 0.1)]
        save_state(str(directory), ExperimentState(
            "e-" + run_id, trials=trials, trial_order=["t1", "t2"], searcher_done=True))
    (root / "no_state" / NEW_RUN).mkdir(parents=True)
    monkeypatch.setenv("TUNE_RESULT_DIR", str(root))
    return root


@pytest.mark.parametrize("target", ["exp", "{root}/exp", "{root}/exp/" + NEW_RUN])
def test_best_takes_an_experiment_name_an_experiment_dir_or_a_run_dir(results, capsys, target):
    assert main(["best", target.format(root=results), "--metric", "mean_accuracy"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == '{"lr": 0.2}'
    assert f"exp run {NEW_RUN}: best trial t1 with mean_accuracy=0.9 (max)" in err


@pytest.mark.parametrize("target", ["no_state", "{root}/no_state"])
def test_sync_mlflow_takes_an_experiment_name_or_dir_meaning_its_newest_run(results, capsys,
                                                                            target):
    err = _one_line_error(["sync-mlflow", target.format(root=results)], capsys)
    assert f"'{results / 'no_state' / NEW_RUN}' holds no experiment_state.json" in err


def test_an_unknown_experiment_name_says_where_it_was_looked_for(results, capsys):
    err = _one_line_error(["best", "nope"], capsys)
    assert f"'nope' is not a directory, nor an experiment under '{results}'" in err


def test_no_metric_lists_the_keys_the_trials_reported(results, capsys):
    err = _one_line_error(["best", "exp"], capsys)
    assert f"No metric is known for 'exp' run {NEW_RUN}" in err
    assert "pass --metric with one of the keys its trials reported: mean_accuracy, " \
           "training_iteration." in err  # numbers only, bookkeeping keys left out
    err = _one_line_error(["best", "exp", "--metric", "nope"], capsys)
    assert f"No trial of 'exp' run {NEW_RUN} reported 'nope'; pass --metric with one of the " \
           "keys its trials reported: mean_accuracy, training_iteration." in err


def test_ls_of_a_default_results_dir_not_made_yet_is_no_experiments(tmp_path, capsys,
                                                                    monkeypatch):
    missing = tmp_path / "ray_results"
    monkeypatch.setenv("TUNE_RESULT_DIR", str(missing))
    assert main(["ls"]) == 0
    assert capsys.readouterr().out == f"No experiments in {missing} yet.\n"


def _arguments_without_help(text: str) -> list[str]:
    """The argument entries of an argparse help text with no help: alone on their line
    and not followed by an indented help line."""
    lines = text.splitlines() + [""]
    return [line.strip() for line, after in zip(lines, lines[1:])
            if re.match(r"  \S", line) and not re.search(r"\S {2,}\S", line)
            and not re.match(r" {3,}\S", after)]


@pytest.mark.parametrize("command", [
    [], ["run"], ["resume"], ["ls"], ["best"], ["migrate-state"], ["server"], ["sync-mlflow"]])
def test_help_is_plain_text_and_every_argument_has_help(capsys, command):
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    text = capsys.readouterr().out
    assert "usage: tuneflows" in text and "``" not in text
    assert _arguments_without_help(text) == []
