"""Names, imports, create_scheduler and the base class's contract."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import tuneflows.schedulers as schedulers
from tuneflows.schedulers import (
    SCHEDULERS,
    AsyncHyperBandScheduler,
    Decision,
    FIFOScheduler,
    HyperBandScheduler,
    HyperOptScheduler,
    MedianStoppingRule,
    MetricSpec,
    PopulationBasedTraining,
    TrialScheduler,
    create_scheduler,
)
from tuneflows.trial import TrialSnapshot


def test_registry_and_exports():
    assert SCHEDULERS == {
        "fifo": FIFOScheduler, "median": MedianStoppingRule, "asha": AsyncHyperBandScheduler,
        "async_hyperband": AsyncHyperBandScheduler, "hyperband": HyperBandScheduler,
        "pbt": PopulationBasedTraining, "hyperopt": HyperOptScheduler,
    }
    for name in schedulers.__all__:
        assert hasattr(schedulers, name)
    assert TrialScheduler.CONTINUE == "CONTINUE" and TrialScheduler.STOP == "STOP"


def test_create_scheduler_by_name():
    s = create_scheduler("ASHA", metric="loss", mode="min", max_t=27, grace_period=1)
    assert isinstance(s, AsyncHyperBandScheduler) and (s.metric, s.mode) == ("loss", "min")
    assert isinstance(create_scheduler("async-hyperband"), AsyncHyperBandScheduler)
    assert isinstance(create_scheduler("fifo"), FIFOScheduler)
    assert isinstance(create_scheduler("hyperopt"), HyperOptScheduler)


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown scheduler 'bohb'; valid names: \['asha'"):
        create_scheduler("bohb")


def test_unknown_keyword_lists_the_valid_ones():
    with pytest.raises(ValueError) as err:
        create_scheduler("median", grace=3)
    assert "['grace']" in str(err.value) and "grace_period" in str(err.value)


def test_seed_defaults():
    m = MedianStoppingRule()
    assert (m.time_attr, m.metric, m._grace_period, m._min_samples, m._hard_stop) == (
        "time_total_s", "episode_reward_mean", 60.0, 3, True)
    h = HyperBandScheduler()
    assert (h.time_attr, h._max_t, h._eta) == ("training_iteration", 81.0, 3.0)
    p = PopulationBasedTraining(hyperparam_mutations={"lr": [1, 2]})
    assert (p.time_attr, p._interval, p._resample_p) == ("time_total_s", 60.0, 0.25)


def test_metric_spec_resolution():
    assert (MetricSpec.resolve(None, None, None, "r").metric, "max") == ("r", "max")
    assert MetricSpec.resolve("loss", "min", "episode_reward_mean", "episode_reward_mean").mode == "min"
    assert MetricSpec.resolve(None, "min", "loss", "x").metric == "loss"
    with pytest.raises(ValueError, match="not both"):
        MetricSpec.resolve("loss", "min", "acc", "episode_reward_mean")
    spec = MetricSpec("loss", "min")
    assert spec.score({"loss": 2}) == -2 and spec.score({"loss": float("nan")}) == float("-inf")
    with pytest.raises(KeyError, match="'loss' is not in the result"):
        spec.score({"acc": 1})


def test_decision_validation():
    with pytest.raises(ValueError, match="action='KILL'"):
        Decision("KILL")
    with pytest.raises(ValueError, match="needs new_config"):
        Decision("CONTINUE", clone_from="t1")


def test_missing_time_attr_is_a_clear_error():
    s = AsyncHyperBandScheduler(metric="acc")
    with pytest.raises(KeyError, match="time_attr 'training_iteration' is not in the result"):
        s.on_trial_result(TrialSnapshot.make("a", {}), {"acc": 1})


def test_set_state_keeps_constructor_configuration():
    """keras-tuner#803: resuming must not silently override constructor arguments."""
    old = MedianStoppingRule(grace_period=60, seed=1)
    new = MedianStoppingRule(grace_period=5, seed=1)
    new.set_state(old.get_state())
    assert new._grace_period == 5.0


def test_same_seed_same_decisions_in_another_process():
    code = textwrap.dedent("""
        from tuneflows.schedulers import AsyncHyperBandScheduler, PopulationBasedTraining
        from tuneflows.trial import TrialSnapshot
        a = AsyncHyperBandScheduler(seed=11)
        for i in range(50):
            a.on_trial_add(TrialSnapshot.make(f"t{i}", {}))
        p = PopulationBasedTraining(seed=11, hyperparam_mutations={"lr": [1, 2, 3]})
        print([a._trials[f"t{i}"]["bracket"] for i in range(50)],
              [p.explore({"lr": 2}) for _ in range(20)])
    """)
    here = {}
    exec(code.replace("print(", "here['out'] = ("), {"here": here})
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == " ".join(str(x) for x in here["out"])
