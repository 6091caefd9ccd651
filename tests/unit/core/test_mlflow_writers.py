"""How an experiment's MLflow records are shared among writer processes: routing
logic only (the processes against a real MLflow store: tests/integration/test_mlflow_process.py)."""

from __future__ import annotations

import pytest

from tuneflows.recording.mlflow.writer_pool import WRITERS_ENV, MlflowExperimentLog, writer_count


class RecordingWriter:
    """Stands in for an ``MlflowWriterProcess``: records the commands it is given."""

    def __init__(self, name: str, journal: list, silent: frozenset = frozenset(),
                 lost: dict = None) -> None:
        self.name = name
        self.journal = journal
        self.silent = silent
        self.lost = lost or {}

    def send(self, method: str, key: str, args: tuple) -> None:
        self.journal.append((self.name, method, key, args))

    def request(self, method: str, key: str, args: tuple,
                deadline: float = None) -> tuple[bool, object]:
        self.journal.append((self.name, "request:" + method, key, args))
        if self.name in self.silent:
            return False, f"{self.name} did not answer"
        return True, self.lost.get(self.name)


def make_log(count: int, silent: frozenset = frozenset(),
             lost: dict = None) -> tuple[MlflowExperimentLog, list]:
    journal: list = []
    primary, *helpers = [RecordingWriter(f"w{i}", journal, silent, lost) for i in range(count)]
    return MlflowExperimentLog(primary, helpers, "exp1"), journal


def test_trials_are_dealt_round_robin_and_keep_their_writer():
    log, journal = make_log(2)
    for trial in ("a", "b", "c"):
        log.start_trial(trial, trial, {"lr": 0.1}, {})
    log.log_results("b", [{"training_iteration": 1, "timestamp": 1.0, "loss": 0.5}])
    log.end_trial("a", "TERMINATED")
    log.set_tags("c", {"k": 1})
    writer_by_trial = {}
    for name, _, key, args in journal:
        assert key == "exp1"
        writer_by_trial.setdefault(args[0], set()).add(name)
    assert writer_by_trial == {"a": {"w0"}, "b": {"w1"}, "c": {"w0"}}


def test_commands_carry_plain_data():
    log, journal = make_log(1)
    log.start_trial("a", "trial_a", {"net": {"depth": 3}}, {"logdir": "/x", "n": 2}, 1500)
    log.log_results("a", [{"training_iteration": 4, "timestamp": 2.0, "loss": 0.5, "name": "x"}])
    assert journal == [
        ("w0", "start_trial", "exp1", ("a", "trial_a", {"net/depth": "3"}, {"logdir": "/x", "n": "2"},
                                            1500)),
        ("w0", "log_results", "exp1", ("a", [(4, 2000, {"loss": 0.5})])),
    ]


def test_the_parent_run_ends_after_every_helper_has_written_its_trials():
    log, journal = make_log(3)
    gaps = log.end_experiment("FINISHED", {"trials.TERMINATED": 2})
    assert [(name, method) for name, method, _, _ in journal] == [
        ("w1", "close_experiment"), ("w2", "close_experiment"),
        ("w1", "request:lost_records"), ("w2", "request:lost_records"),
        ("w0", "request:end_experiment"),
    ]
    assert journal[-1][3] == ("FINISHED", {"trials.TERMINATED": 2})
    assert gaps.complete


def test_the_experiment_s_end_says_which_trials_mlflow_lacks():
    """A writer that dropped records names their trials; one that did not answer (it
    stopped, or missed the deadline) leaves all its trials unconfirmed."""
    log, _ = make_log(3, silent=frozenset({"w2"}),
                      lost={"w0": {"trials": ["a"], "parent": True}})
    for trial in ("a", "b", "c", "d", "e"):  # w0: a, d; w1: b, e; w2: c
        log.start_trial(trial, f"trial_{trial}", {}, {})
    gaps = log.end_experiment("FINISHED", {})
    assert gaps.trial_ids == {"a", "c"}
    assert gaps.parent
    assert gaps.reasons == ["w2 did not answer"]
    text = gaps.describe({"a": "trial_a", "c": "trial_c"}, "/r/exp")
    assert "2 trial(s) (trial_a, trial_c)" in text and "the parent run" in text
    assert "w2 did not answer" in text and "tuneflows sync-mlflow /r/exp" in text


@pytest.mark.parametrize("value, expected", [("1", 1), ("4", 4)])
def test_the_writer_count_comes_from_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv(WRITERS_ENV, value)
    assert writer_count() == expected


@pytest.mark.parametrize("value", ["0", "-1", "two", ""])
def test_a_bad_writer_count_names_the_variable(monkeypatch, value):
    monkeypatch.setenv(WRITERS_ENV, value)
    with pytest.raises(ValueError, match=f"{WRITERS_ENV} must be a positive integer, got {value!r}"):
        writer_count()


def test_the_default_is_one_writer_on_any_machine(monkeypatch):
    monkeypatch.delenv(WRITERS_ENV, raising=False)
    for cores in (1, 2, 8):
        monkeypatch.setattr("os.cpu_count", lambda: cores)
        assert writer_count() == 1


def test_an_unknown_command_is_an_error_not_silently_ignored():
    from tuneflows.recording.mlflow.writer_process import MlflowWriterProcess

    writer = MlflowWriterProcess()
    try:
        ok, error = writer.request("drop_tables", "exp1", ())
        assert not ok and "'drop_tables' is not a valid WriterCommand" in error
        assert writer.request("sync", "", ()) == (True, None)  # the writer goes on
    finally:
        writer.close()
