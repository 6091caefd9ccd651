"""points_to_evaluate of the grid × samples generator: evaluated first, then the grid and
random ones; checked against the config with errors naming the point and the key; taken
with the experiment's config and num_samples when the generator is given to
run_experiments without them."""

import pickle

import pytest

from tuneflows.orchestration.algorithm_choice import make_searcher
from tuneflows.schedulers import FIFOScheduler
from tuneflows.search import BasicVariantGenerator, choice, create_searcher, grid_search, uniform
from tuneflows.search.searcher import FINISHED
from tuneflows.spec import Experiment

CONFIG = {"lr": grid_search([0.1, 0.2]), "x": uniform(0, 1), "net": {"act": choice(["relu", "tanh"]),
                                                                      "width": 8}}


def suggestions(gen, prefix="t"):
    out = []
    while True:
        config = gen.suggest(f"{prefix}{len(out)}")
        if config == FINISHED:
            return out
        out.append(config)


def test_points_come_first_then_the_grid_and_random_ones():
    points = [{"lr": 0.5, "x": 0.25, "net": {"act": "tanh"}}, {"lr": 0.7, "x": 0.75}]
    configs = suggestions(BasicVariantGenerator(CONFIG, num_samples=3, seed=1,
                                                points_to_evaluate=points))
    assert [(c["lr"], c["x"]) for c in configs[:2]] == [(0.5, 0.25), (0.7, 0.75)]
    assert configs[0]["net"] == {"act": "tanh", "width": 8}
    assert configs[1]["net"]["act"] in ("relu", "tanh")  # unset: drawn as usual
    assert [c["lr"] for c in configs[2:]] == [0.1, 0.2]  # the third sample: the grid
    assert all(0 <= c["x"] <= 1 for c in configs[2:])


def test_more_points_than_samples_raise_the_samples():
    gen = BasicVariantGenerator({"x": uniform(0, 1)}, num_samples=1,
                                points_to_evaluate=[{"x": 0.1}, {"x": 0.2}, {"x": 0.3}])
    assert gen.total_trials == 3 and [c["x"] for c in suggestions(gen)] == [0.1, 0.2, 0.3]


def test_with_an_empty_config_the_points_are_the_configs():
    gen = BasicVariantGenerator(points_to_evaluate=[{"a": 1}, {"b": {"c": 2}}])
    assert suggestions(gen) == [{"a": 1}, {"b": {"c": 2}}]


def test_the_same_seed_gives_the_same_trials_and_state_round_trips():
    def make():
        return BasicVariantGenerator(CONFIG, num_samples=2, seed=3, points_to_evaluate=[{"x": 0.5}])

    first = make()
    head = [first.suggest(str(i)) for i in range(2)]
    clone = pickle.loads(pickle.dumps(first))
    fresh = make()
    fresh.set_state(first.get_state())
    rest = suggestions(first, "r")
    assert suggestions(clone, "r") == rest == suggestions(fresh, "r")
    again = make()
    assert [again.suggest(str(i)) for i in range(2)] == head and head[0]["x"] == 0.5
    assert len(head) + len(rest) == 2 + 2  # the point leaves the lr grid to expand


@pytest.mark.parametrize("points, message", [
    ([{"lr": 0.1}, {"lrr": 0.2}],
     "points_to_evaluate[1] sets 'lrr', which the config does not have; its keys are "
     "'lr', 'x', 'net'."),
    ([{"net": {"acts": "relu"}}],
     "points_to_evaluate[0] sets 'net/acts', which the config does not have; its 'net' has "
     "'act', 'width'."),
    ([{"x/y": 1}],
     "points_to_evaluate[0] sets 'x/y', which the config does not have; 'x' is a single "
     "setting, not a dict of them."),
    ([{"x": 0.5}, {}, {"x": uniform(0, 1)}],
     "points_to_evaluate[2]['x'] is a search space (Uniform), not a value"),
    ([{"lr": grid_search([1, 2])}], "points_to_evaluate[0]['lr'] is a search space (GridSearch)"),
    ([{"x": 0.5}, "x=0.5"], "points_to_evaluate[1] must be a dict, got 'x=0.5'"),
])
def test_a_bad_point_is_named_by_its_index_and_key(points, message):
    with pytest.raises(ValueError) as error:
        BasicVariantGenerator(CONFIG, points_to_evaluate=points)
    assert message in str(error.value)


def test_a_bad_point_is_found_when_the_experiment_gives_the_config():
    gen = BasicVariantGenerator(points_to_evaluate=[{"lr": 0.5}, {"momentum": 0.9}])
    with pytest.raises(ValueError, match=r"points_to_evaluate\[1\] sets 'momentum'"):
        gen.set_search_properties(None, None, {"lr": uniform(0, 1)}, num_samples=2)


def test_run_experiments_gives_its_config_and_num_samples_to_a_generator_without_them():
    exp = Experiment("points", run=lambda config, reporter: None, config=CONFIG, num_samples=2)
    gen = make_searcher(exp, FIFOScheduler(), BasicVariantGenerator(points_to_evaluate=[
        {"lr": 0.5, "x": 0.5}]))
    configs = suggestions(gen)
    assert gen.total_trials == len(configs) == 1 + 2
    assert configs[0]["lr"] == 0.5 and [c["lr"] for c in configs[1:]] == [0.1, 0.2]


def test_arguments_given_to_the_constructor_win_over_the_experiments():
    own = {"y": grid_search([1, 2, 3])}
    gen = BasicVariantGenerator(own, num_samples=1, points_to_evaluate=[{"y": 9}])
    gen.set_search_properties("m", "max", CONFIG, num_samples=5)
    assert [c["y"] for c in suggestions(gen)] == [9]  # the point is the one sample


def test_the_experiment_comes_before_the_first_suggestion():
    gen = BasicVariantGenerator({"x": uniform(0, 1)}, num_samples=2)
    gen.suggest("t0")
    with pytest.raises(ValueError, match="before the first suggestion"):
        gen.set_search_properties(None, None, {"x": uniform(0, 1)})


def test_searchers_built_by_name_take_points_too():
    for name in ("random", "hyperopt"):
        searcher = create_searcher(name, points_to_evaluate=[{"x": 0.25}], **(
            {"metric": "m", "mode": "max"} if name == "hyperopt" else {}))
        searcher.set_search_properties("m", "max", {"x": uniform(0, 1)}, num_samples=3)
        assert searcher.suggest("t0")["x"] == 0.25
