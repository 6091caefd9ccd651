"""``points_to_evaluate`` as a spec key (YAML): checked before any trial starts, and
evaluated first by the default generator or a searcher named by string."""

import pytest

from tuneflows.orchestration.algorithm_choice import make_searcher, resolve_scheduler, resolve_search_alg
from tuneflows.cli.main import load_spec
from tuneflows.search import HyperOptSearch
from tuneflows.spec import Experiment, normalize_experiments

SPEC = """
pointed:
  run: flows.quickstart:train_func
  num_samples: 3
  config:
    lr: {uniform: [0.1, 0.6]}
    momentum: 0.1
  points_to_evaluate:
    - {lr: 0.3}
"""


@pytest.fixture
def experiment(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    [exp] = normalize_experiments(load_spec(str(path)))
    return exp


def test_the_default_generator_evaluates_the_points_first(experiment):
    searcher = make_searcher(experiment, resolve_scheduler(None), None)
    first = searcher.suggest("t0")
    assert first == {"lr": 0.3, "momentum": 0.1}
    assert searcher.suggest("t1")["lr"] != 0.3


def test_a_searcher_named_by_string_evaluates_the_points_first(experiment):
    search = resolve_search_alg("hyperopt", "mean_accuracy", "max",
                                experiment.points_to_evaluate)
    searcher = make_searcher(experiment, resolve_scheduler(None), search, "mean_accuracy", "max")
    assert searcher.suggest("t0") == {"lr": 0.3, "momentum": 0.1}


@pytest.mark.parametrize("points", [{"lr": 0.3}, [0.3], "lr=0.3"])
def test_points_that_are_not_a_list_of_configs_are_refused_by_key(points):
    with pytest.raises(ValueError, match="experiment 'e': 'points_to_evaluate' must be a list"):
        Experiment("e", run=lambda config, reporter: None, points_to_evaluate=points)


def test_a_point_setting_a_key_the_config_lacks_is_named(experiment):
    experiment.points_to_evaluate = [{"lrr": 0.3}]
    with pytest.raises(ValueError, match=r"points_to_evaluate\[0\] sets 'lrr'"):
        make_searcher(experiment, resolve_scheduler(None), None)


def test_points_for_a_searcher_object_say_where_they_go(experiment):
    with pytest.raises(ValueError, match=r"pass points_to_evaluate= to HyperOptSearch\(...\)"):
        resolve_search_alg(HyperOptSearch(), "m", "max", experiment.points_to_evaluate)
