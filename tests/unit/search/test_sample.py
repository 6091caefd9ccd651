"""Distributions and validation of the search space primitives."""

import pickle

import numpy as np
import pytest

from tuneflows.search import domains as s
from tuneflows.search.config_values import to_domain
from tuneflows.search.spec_view import SpecView


def draws(domain, n=4000, seed=0):
    rng = np.random.default_rng(seed)
    return np.array([domain.sample(rng) for _ in range(n)])


def test_uniform_bounds_and_mean():
    x = draws(s.uniform(-2, 3))
    assert x.min() >= -2 and x.max() < 3
    assert abs(x.mean() - 0.5) < 0.1


def test_quniform_quantised_inside_bounds():
    x = draws(s.quniform(0.05, 1.0, 0.1))
    assert x.min() >= 0.1 - 1e-12 and x.max() <= 1.0 + 1e-12
    assert np.allclose(np.round(x / 0.1) * 0.1, x)
    assert set(np.round(x, 10)) == {round(0.1 * k, 10) for k in range(1, 11)}
    assert 0.3 in set(x.tolist())  # no float noise (3 * 0.1)


def test_loguniform_log_scale():
    x = draws(s.loguniform(1e-4, 1e-1))
    assert x.min() >= 1e-4 and x.max() <= 1e-1
    lx = np.log10(x)
    # uniform in log space: each decade holds about a third
    for lo in (-4, -3, -2):
        frac = np.mean((lx >= lo) & (lx < lo + 1))
        assert abs(frac - 1 / 3) < 0.04


def test_qloguniform():
    x = draws(s.qloguniform(1, 1000, 5))
    assert x.min() >= 5 and x.max() <= 1000
    assert np.allclose(x % 5, 0)
    assert np.median(x) < 100  # log scale: median near sqrt(1000) ~ 32


def test_randint_excludes_high():
    x = draws(s.randint(2, 5))
    assert set(x.tolist()) == {2, 3, 4}
    assert all(isinstance(v, int) for v in [s.randint(3).sample(1)])
    assert set(draws(s.randint(3)).tolist()) == {0, 1, 2}


def test_choice_uniform():
    x = draws(s.choice(["a", "b", "c"]), n=3000)
    for c in "abc":
        assert abs(np.mean(x == c) - 1 / 3) < 0.04


def test_randn_moments():
    x = draws(s.randn(3.0, 2.0))
    assert abs(x.mean() - 3) < 0.15 and abs(x.std() - 2) < 0.15


def test_grid_and_sample_from():
    assert s.grid_search([1, 2]).values == [1, 2]
    assert s.grid_search([1, 2]).sample(0) in (1, 2)
    assert s.sample_from(lambda spec: spec.config.a * 2).sample(
        None, SpecView({"config": {"a": 3}})) == 6


def test_seed_reproduces():
    for d in (s.uniform(0, 1), s.loguniform(1, 10), s.choice([1, 2, 3]), s.randn()):
        assert (draws(d, 50, seed=7) == draws(d, 50, seed=7)).all()


@pytest.mark.parametrize("make, words", [
    (lambda: s.uniform(1, 1), ["low=1", "high=1"]),
    (lambda: s.uniform(2, 1), ["low=2", "high=1"]),
    (lambda: s.quniform(0, 1, 0), ["q=0"]),
    (lambda: s.quniform(0, 1, -1), ["q=-1"]),
    (lambda: s.loguniform(0, 1), ["low=0"]),
    (lambda: s.loguniform(-1, 1), ["low=-1"]),
    (lambda: s.qloguniform(1, 10, 0), ["q=0"]),
    (lambda: s.randint(5, 5), ["low=5", "high=5"]),
    (lambda: s.randint(0.5, 3), ["low=0.5"]),
    (lambda: s.choice([]), ["empty"]),
    (lambda: s.grid_search([]), ["empty"]),
    (lambda: s.grid_search("abc"), ["list"]),
    (lambda: s.randn(0, 0), ["sd=0"]),
    (lambda: s.uniform("a", 1), ["low", "'a'"]),
    (lambda: s.sample_from(3), ["callable"]),
])
def test_validation_names_value(make, words):
    with pytest.raises(ValueError) as e:
        make()
    for w in words:
        assert w in str(e.value)


def test_to_domain_forms():
    g = to_domain({"grid_search": [1, 2]})
    assert isinstance(g, s.GridSearch) and g.values == [1, 2]
    assert isinstance(to_domain(lambda spec: 1), s.SampleFrom)
    assert to_domain(5) == 5 and to_domain(int) is int
    with pytest.raises(ValueError, match="'a/b'.*single key"):
        to_domain({"grid_search": [1], "x": 2}, "a/b")
    with pytest.raises(ValueError, match="empty.*'lr'"):
        to_domain({"grid_search": []}, "lr")
    with pytest.raises(ValueError, match="'f'.*one argument"):
        to_domain(lambda a, b: 1, "f")


def test_spec_view():
    v = SpecView({"config": {"a": {"b": 1}, "items": 2}})
    assert v.config.a.b == 1 and v["config"]["a"]["b"] == 1
    assert v.config["items"] == 2
    assert dict(v.config.a) == {"b": 1}
    with pytest.raises(AttributeError, match="no key 'zz'.*'a'"):
        v.config.zz
    with pytest.raises(TypeError):
        v.x = 1


def test_domains_pickle_and_compare():
    d = s.qloguniform(1, 100, 2)
    assert pickle.loads(pickle.dumps(d)) == d
    assert d != s.qloguniform(1, 100, 3)
    assert "QLogUniform" in repr(d)
