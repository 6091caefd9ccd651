"""YAML specs: search spaces written as ``{uniform: [a, b]}`` become domains, and a bad
one is an error naming the experiment and the key (no Ray, Prefect or MLflow)."""

import pytest

from tuneflows.cli.main import load_spec
from tuneflows.search.domains import Choice, LogUniform, Uniform

SPEC = """
nightly:
  run: flows.quickstart:train_func
  config:
    lr: {uniform: [0.1, 0.6]}
    wd: {loguniform: [0.0001, 0.1]}
    momentum: {grid_search: [0.1, 0.2]}
    net: {act: {choice: [[relu, tanh]]}, width: 8}
"""


def test_domains_in_yaml_become_search_spaces(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    config = load_spec(str(path))["nightly"]["config"]
    assert isinstance(config["lr"], Uniform) and (config["lr"].low, config["lr"].high) == (0.1, 0.6)
    assert isinstance(config["wd"], LogUniform)
    assert config["momentum"] == {"grid_search": [0.1, 0.2]}  # the seed's grid form stays
    assert isinstance(config["net"]["act"], Choice) and config["net"]["width"] == 8


@pytest.mark.parametrize("value, message", [
    ("{uniform: 0.1}", r"nightly: config\['lr'\]: \{uniform: ...\} takes a list"),
    ("{uniform: [0.6, 0.1]}", r"nightly: config\['lr'\]: \{uniform: \[0.6, 0.1\]\} is not a valid"),
    ("{randint: [1, 2, 3, 4]}", r"nightly: config\['lr'\]: \{randint: .*is not a valid"),
])
def test_a_bad_domain_names_the_experiment_and_key(tmp_path, value, message):
    path = tmp_path / "spec.yaml"
    path.write_text(f"nightly:\n  run: flows.quickstart:train_func\n  config:\n    lr: {value}\n")
    with pytest.raises(ValueError, match=message):
        load_spec(str(path))


@pytest.mark.parametrize("value, key, bad, meant", [
    ("{lr: {unifrom: [0.1, 0.6]}}", r"config\['lr'\]", "unifrom", "uniform"),
    ("{lr: {loguniform_: [0.001, 0.1]}}", r"config\['lr'\]", "loguniform_", "loguniform"),
    ("{net: {act: {choise: [[relu, tanh]]}}}", r"config\['net'\]\['act'\]", "choise", "choice"),
    ("{momentum: {grid_serach: [0.1, 0.2]}}", r"config\['momentum'\]", "grid_serach",
     "grid_search"),
])
def test_a_misspelled_domain_is_refused_naming_the_key_and_the_domain_meant(tmp_path, value,
                                                                             key, bad, meant):
    path = tmp_path / "spec.yaml"
    path.write_text(f"nightly:\n  run: flows.quickstart:train_func\n  config: {value}\n")
    with pytest.raises(ValueError, match=rf"nightly: {key}: unknown search-space domain "
                                         rf"'{bad}' \(did you mean '{meant}'\?\)"):
        load_spec(str(path))


def test_a_plain_mapping_not_named_like_a_domain_stays_a_config_value(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("nightly:\n  run: flows.quickstart:train_func\n"
                    "  config: {net: {units: 3}, opt: {name: sgd}, data: {range: [1, 2]}}\n")
    config = load_spec(str(path))["nightly"]["config"]
    assert config == {"net": {"units": 3}, "opt": {"name": "sgd"}, "data": {"range": [1, 2]}}
