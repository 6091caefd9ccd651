"""Grid × samples generation, lambdas, validation, BasicVariantGenerator."""

import pickle

import pytest

from tuneflows.search import domains as s
from tuneflows.search.searcher import FINISHED
from tuneflows.search.config_validation import validate_config
from tuneflows.search.experiment_tags import format_vars
from tuneflows.search.variant_generator import BasicVariantGenerator, generate_variants
from tuneflows.search.variant_plan import count_variants

QUICK_START = {
    "lr": s.grid_search([0.2, 0.4, 0.6]),
    "momentum": s.grid_search([0.1, 0.2]),
}


def run_all(gen, limit=1000, prefix="t"):
    out = []
    for i in range(limit):
        c = gen.suggest(f"{prefix}{i}")
        if c == FINISHED:
            return out
        out.append((c, gen.experiment_tag(f"{prefix}{i}")))
    raise AssertionError("never finished")


def test_seed_quick_start_order_and_tags():
    got = run_all(BasicVariantGenerator(QUICK_START))
    assert [(c["lr"], c["momentum"]) for c, _ in got] == [
        (0.2, 0.1), (0.4, 0.1), (0.6, 0.1), (0.2, 0.2), (0.4, 0.2), (0.6, 0.2)]
    assert got[0][1] == "lr=0.2,momentum=0.1"
    assert got[5][1] == "lr=0.6,momentum=0.2"


def test_seed_dict_form_grid():
    cfg = {"lr": {"grid_search": [0.2, 0.4]}, "c": 1}
    got = run_all(BasicVariantGenerator(cfg))
    assert [c for c, _ in got] == [{"lr": 0.2, "c": 1}, {"lr": 0.4, "c": 1}]


def test_grid_times_samples_count_and_order():
    cfg = dict(QUICK_START, x=s.uniform(0, 1))
    gen = BasicVariantGenerator(cfg, num_samples=3, seed=0)
    assert gen.total_trials == 18 == count_variants(cfg, 3)
    got = run_all(gen)
    assert len(got) == 18
    # each sample holds the full grid in order; every cell draws fresh random values
    for k in range(3):
        block = got[6 * k: 6 * k + 6]
        assert [(c["lr"], c["momentum"]) for c, _ in block] == [
            (0.2, 0.1), (0.4, 0.1), (0.6, 0.1), (0.2, 0.2), (0.4, 0.2), (0.6, 0.2)]
    assert len({c["x"] for c, _ in got}) == 18
    assert got[0][1].startswith("lr=0.2,momentum=0.1,x=")
    assert gen.suggest("again") == FINISHED


def test_no_grid_no_domain():
    gen = BasicVariantGenerator({"a": 1}, num_samples=2)
    assert [c for c, _ in run_all(gen)] == [{"a": 1}, {"a": 1}]
    assert gen.experiment_tag("t0") == ""
    assert count_variants({}, 4) == 4
    assert run_all(BasicVariantGenerator(None)) == [({}, "")]


def test_seed_style_lambdas_nested_and_dependencies():
    cfg = {
        # declared before what it depends on: resolved in dependency order
        "c": lambda spec: spec.config.b + 1,
        "b": s.sample_from(lambda spec: spec.config.opt.lr * 2),
        "opt": {"lr": s.grid_search([1.0, 2.0]), "betas": [0.9, lambda spec: spec["config"]["opt"]["lr"] / 10]},
        "const": (1, 2),
        "stop_seen": lambda spec: spec.stop["mean_accuracy"],
    }
    got = run_all(BasicVariantGenerator(cfg, spec={"stop": {"mean_accuracy": 99}}))
    c0, tag0 = got[0]
    assert c0 == {"c": 3.0, "b": 2.0, "opt": {"lr": 1.0, "betas": [0.9, 0.1]},
                  "const": (1, 2), "stop_seen": 99}
    assert got[1][0]["c"] == 5.0
    assert tag0 == "b=2,c=3,opt/betas/1=0.1,opt/lr=1,stop_seen=99"  # sorted, as the seed's


def test_lambda_returning_domain_is_sampled():
    cfg = {"model": s.grid_search(["a", "b"]),
           "width": lambda spec: s.randint(1, 3) if spec.config.model == "a" else 100}
    got = [c for c, _ in run_all(BasicVariantGenerator(cfg, seed=0))]
    assert got[0]["width"] in (1, 2) and got[1]["width"] == 100


def test_conditional_choice_of_dicts():
    cfg = {"opt": s.choice([{"name": "sgd", "lr": s.loguniform(1e-3, 1)}, {"name": "adam"}])}
    got = [c for c, _ in run_all(BasicVariantGenerator(cfg, num_samples=40, seed=1))]
    sgd = [c["opt"] for c in got if c["opt"]["name"] == "sgd"]
    assert sgd and all(1e-3 <= o["lr"] <= 1 for o in sgd)


def test_cycle_is_a_clear_error():
    cfg = {"a": lambda spec: spec.config.b, "b": lambda spec: spec.config.a}
    with pytest.raises(ValueError, match="`a` recursively depends on `b`.*cycle"):
        BasicVariantGenerator(cfg).suggest("t")


def test_lambda_error_names_path():
    cfg = {"x": {"y": lambda spec: spec.config.nope}}
    with pytest.raises(ValueError, match="'x/y'.*no key 'nope'"):
        BasicVariantGenerator(cfg).suggest("t")


def test_seeds_reproduce_and_differ():
    cfg = {"x": s.uniform(0, 1), "g": s.grid_search([1, 2]), "c": s.choice(list("abc"))}
    a = run_all(BasicVariantGenerator(cfg, num_samples=3, seed=5))
    b = run_all(BasicVariantGenerator(cfg, num_samples=3, seed=5))
    c = run_all(BasicVariantGenerator(cfg, num_samples=3, seed=6))
    assert a == b and a != c


def test_state_round_trip_and_pickle():
    cfg = dict(QUICK_START, x=s.loguniform(1e-3, 1))
    gen = BasicVariantGenerator(cfg, num_samples=2)  # seed=None: entropy kept in state
    for i in range(4):
        gen.suggest(f"t{i}")
    state = gen.get_state()
    clone = pickle.loads(pickle.dumps(gen))
    fresh = BasicVariantGenerator(cfg, num_samples=2)
    fresh.set_state(state)
    rest = run_all(gen, prefix="r")
    assert run_all(clone, prefix="r") == rest and run_all(fresh, prefix="r") == rest
    assert len(rest) == 8
    assert fresh.experiment_tag("t3") == gen.experiment_tag("t3")


def test_points_to_evaluate_first_and_counted():
    cfg = {"lr": s.grid_search([0.1, 0.2]), "x": s.uniform(0, 1), "n": {"k": s.randint(0, 9)}}
    pts = [{"lr": 0.5, "x": 0.25}, {"x": 0.75, "n/k": 7}]
    gen = BasicVariantGenerator(cfg, num_samples=3, seed=0, points_to_evaluate=pts)
    assert gen.total_trials == 1 + 2 + 2 == count_variants(cfg, 3, pts)
    got = run_all(gen)
    assert got[0][0]["lr"] == 0.5 and got[0][0]["x"] == 0.25
    assert [c["lr"] for c, _ in got[1:3]] == [0.1, 0.2]
    assert all(c["x"] == 0.75 and c["n"]["k"] == 7 for c, _ in got[1:3])
    assert got[0][1] == "lr=0.5,n/k=7,x=0.25"


def test_generate_variants_function():
    out = list(generate_variants(QUICK_START, num_samples=2, rng=0))
    assert len(out) == 12
    resolved, cfg = out[1]
    assert resolved == {"lr": 0.4, "momentum": 0.1} and cfg == {"lr": 0.4, "momentum": 0.1}


def test_format_vars_short():
    assert format_vars({"lr": 0.123456, "n": 3, "name": "a b", "big": 123456.7,
                        "flag": True}) == "big=1.235e+05,flag=True,lr=0.1235,n=3,name=ab"
    assert len(format_vars({"l": list(range(100))})) < 30


@pytest.mark.parametrize("cfg, words", [
    ({"a": {"b": {"grid_search": []}}}, ["empty", "'a/b'"]),
    ({"a": {"grid_search": [1], "other": 2}}, ["'a'", "single key"]),
    ({"a": {"grid_search": 3}}, ["'a'", "list"]),
    ({"a": s.grid_search([s.grid_search([1])])}, ["'a'", "nested"]),
    ({"a": s.choice([{"b": s.grid_search([1, 2])}])}, ["'a/b'", "choice"]),
    ({"f": [lambda: 1]}, ["'f/0'", "one argument"]),
    ([1, 2], ["config must be a dict"]),
])
def test_validate_config_names_the_path(cfg, words):
    with pytest.raises(ValueError) as e:
        validate_config(cfg)
    for w in words:
        assert w in str(e.value)


def test_hyperopt_expr_rejected_for_variants():
    from hyperopt import hp
    with pytest.raises(ValueError, match="'space/x'.*HyperOptSearch"):
        validate_config({"space": {"x": hp.uniform("x", 0, 1)}})
    validate_config({"space": {"x": hp.uniform("x", 0, 1)}}, allow_hyperopt=True)


def test_bad_num_samples():
    with pytest.raises(ValueError, match="num_samples=0"):
        BasicVariantGenerator({}, num_samples=0)


def test_duplicate_trial_id():
    gen = BasicVariantGenerator({}, num_samples=2)
    gen.suggest("a")
    with pytest.raises(ValueError, match="'a'"):
        gen.suggest("a")
