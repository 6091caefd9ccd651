"""The CLI's errors: one line on stderr in its own words, exit code 2, before any
trial starts (no Ray, Prefect or MLflow is reached)."""

import os

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
    from tuneflows.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["run", spec, "--resume"]).resume is True
    assert parser.parse_args(["run", spec, "--resume", "auto"]).resume == "AUTO"
    assert parser.parse_args(["run", spec]).resume is False
    with pytest.raises(SystemExit):
        parser.parse_args(["run", spec, "--resume", "sometimes"])
