"""seed_era_program.py, a program of Ray Tune 0.5's time with ``ray.tune`` replaced by
``tuneflows``, run as its own process: ``ray.init()`` comes first, and tuneflows attaches
to that Ray; FIFO and HyperBand, imported from their seed-era modules, run a class
trainable returning ``TrainingResult``; HyperOptSearch runs a function trainable."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

PROGRAM = os.path.join(os.path.dirname(__file__), "seed_era_program.py")


def test_the_seed_era_program_runs_unchanged(tune_env):
    from prefect.settings import PREFECT_API_URL

    env = dict(os.environ, PREFECT_API_URL=PREFECT_API_URL.value())
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run([sys.executable, PROGRAM], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summaries = {s["name"]: s for s in (json.loads(line.split(" ", 1)[1])
                                        for line in done.stdout.splitlines()
                                        if line.startswith("SUMMARY "))}
    assert list(summaries) == ["fifo", "hyperband", "hyperopt_search"]
    for summary in summaries.values():
        assert summary["statuses"] == ["TERMINATED"] * 4, summary
    fifo = summaries["fifo"]
    assert fifo["iterations"] == [10] * 4 and fifo["timesteps"] == [100] * 4
    # filled from mean_loss, as the seed did: the loss at width w is 1 / (1 + w)
    assert fifo["neg_mean_loss"] == pytest.approx([-1 / 2, -1 / 3, -1 / 4, -1 / 5])
    assert fifo["reasons"] == ["training_iteration reached"] * 4
    hyperband = summaries["hyperband"]["reasons"]
    assert sum(r.startswith("stopped at rung 2 of bracket s=2") for r in hyperband) == 3
    # rungs and status numbers as the user gave them: max_t=10 has whole rungs
    assert not re.search(r"rung \d+\.\d", done.stdout)
    assert "s=2 rung 2:" in done.stdout
    assert summaries["hyperopt_search"]["iterations"] == [3] * 4
