"""A new local Ray that misses Ray's fixed start-up wait once is started again; any
other failure, or a second miss, is raised as Ray raised it."""

import pytest

from tuneflows.execution.ray_session import start_with_retry

SLOW = Exception("The current node timed out during startup. This could happen ...")


def starter(failures):
    calls = {"start": 0, "clean_up": 0}

    def start():
        calls["start"] += 1
        if calls["start"] <= len(failures):
            raise failures[calls["start"] - 1]

    def clean_up():
        calls["clean_up"] += 1

    return start, clean_up, calls


def test_one_slow_start_is_retried_after_cleaning_up():
    start, clean_up, calls = starter([SLOW])
    start_with_retry(start, clean_up)
    assert calls == {"start": 2, "clean_up": 1}


def test_a_second_slow_start_is_raised():
    start, clean_up, calls = starter([SLOW, SLOW])
    with pytest.raises(Exception, match="timed out during startup"):
        start_with_retry(start, clean_up)
    assert calls == {"start": 2, "clean_up": 1}


def test_other_failures_are_not_retried():
    start, clean_up, calls = starter([ValueError("bad num_cpus")])
    with pytest.raises(ValueError, match="bad num_cpus"):
        start_with_retry(start, clean_up)
    assert calls == {"start": 1, "clean_up": 0}
