"""The search modules one by one: argument checks, hyperopt documents and conversion,
early-stop ranking, plain data, and the package's shape (one job, a docstring, no private
imports across modules)."""

import ast
import json
import pathlib

import pytest
from hyperopt import Trials, hp
from hyperopt.exceptions import InvalidTrial

import tuneflows.search
from tuneflows.search import HyperOptSearch, uniform, variant_generator
from tuneflows.search.argument_checks import (
    metric_and_mode,
    validate_max_concurrent,
    validate_positive_int,
)
from tuneflows.model.metric_mode import validate_mode
from tuneflows.search.early_stop_ranking import Observation, early_stopped_losses
from tuneflows.search.hyperopt_conversion import is_hyperopt_expression
from tuneflows.search.hyperopt_state import latest
from tuneflows.search.hyperopt_trials import HyperoptTrials, mark_done, mark_failed
from tuneflows.model.plain_json import plain_data
from tuneflows.search.variant_plan import VariantPlan

SEARCH_DIR = pathlib.Path(tuneflows.search.__file__).parent


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "2"])
def test_max_concurrent_check_names_the_value(value):
    expected = rf"max_concurrent must be None or an int >= 1, got {value!r}"
    with pytest.raises(ValueError, match=expected):
        validate_max_concurrent(value)
    with pytest.raises(ValueError, match=r"max_concurrent must be an int >= 1"):
        validate_max_concurrent(value, allow_none=False)


def test_argument_checks_pass_valid_values():
    assert validate_max_concurrent(3) == 3 and validate_max_concurrent(None) is None
    with pytest.raises(ValueError, match="max_concurrent must be an int >= 1, got None"):
        validate_max_concurrent(None, allow_none=False)
    with pytest.raises(ValueError, match="n_ei_candidates must be an int >= 1, got True"):
        validate_positive_int("n_ei_candidates", True)
    assert validate_mode(None, allow_none=True) is None
    with pytest.raises(ValueError, match="mode='best'"):
        validate_mode("best")
    assert metric_and_mode("loss", "min", None) == ("loss", "min")
    assert metric_and_mode(None, "max", "acc") == ("acc", "max")
    with pytest.raises(ValueError, match="not both"):
        metric_and_mode("loss", None, "acc")


def test_every_max_concurrent_goes_through_the_one_check():
    from tuneflows.search import BasicVariantGenerator, ConcurrencyLimiter, TrialLimiter

    with pytest.raises(ValueError, match="max_concurrent must be None or an int >= 1, got 0"):
        HyperOptSearch({"x": uniform(0, 1)}, metric="m", mode="min", max_concurrent=0)
    with pytest.raises(ValueError, match="max_concurrent must be an int >= 1, got None"):
        ConcurrencyLimiter(BasicVariantGenerator({}), None)
    with pytest.raises(ValueError, match="max_trials must be an int >= 1, got 0"):
        TrialLimiter(BasicVariantGenerator({}), 0)


def test_recognises_only_hyperopt_expressions():
    assert is_hyperopt_expression(hp.uniform("x", 0, 1))
    assert not is_hyperopt_expression(Trials())
    assert not is_hyperopt_expression(uniform(0, 1)) and not is_hyperopt_expression({"x": 1})


def test_early_stopped_losses():
    assert early_stopped_losses({0: Observation(1.0, False, 3)}) == {}
    only_stopped = {0: Observation(5.0, True, 1), 1: Observation(9.0, True, 2)}
    assert early_stopped_losses(only_stopped) == {1: 1.0, 0: 2.0}
    same_budget = {0: Observation(0.0, False, 9), 1: Observation(2.0, True, 3),
                   2: Observation(1.0, True, 3)}
    assert early_stopped_losses(same_budget) == {2: 1.0, 1: 2.0}


def test_plain_data_is_new_containers():
    inner = {"a": [1, (2, 3)]}
    out = plain_data(inner)
    assert out == {"a": [1, [2, 3]]} and out is not inner and out["a"] is not inner["a"]


def test_hyperopt_documents_keep_failed_trials_through_state():
    store = HyperoptTrials()
    for tid, status in ((store.new_tid(), "ok"), (store.new_tid(), "fail")):
        store.insert([store.point_doc(tid, ["x"], {"x": float(tid)})])
        (mark_done if status == "ok" else mark_failed)(store.doc(tid), *(
            (0.5, "min", 1, False) if status == "ok" else ("error",)))
    store.refresh()
    assert [d["tid"] for d in store.trials.trials] == [0]  # hyperopt lists valid states only
    settled = json.loads(json.dumps([(d["tid"], d["misc"], d["result"])
                                     for d in map(store.doc, (0, 1))]))
    restored = HyperoptTrials.from_state(settled, [], store.allocated)
    assert restored.doc(1)["state"] == 3 and [d["tid"] for d in restored.trials.trials] == [0]
    assert restored.doc(0)["result"]["loss"] == 0.5 and restored.new_tid() == 2


def test_hyperopt_documents_restore_the_ids_handed_out():
    store = HyperoptTrials()
    store.new_tid()  # handed out, never inserted (e.g. a suggestion that raised)
    assert HyperoptTrials.from_state([], [], store.allocated).new_tid() == 1


def test_a_malformed_document_in_a_state_is_rejected():
    store = HyperoptTrials()
    store.insert([store.point_doc(store.new_tid(), ["x"], {"x": 0.5})])
    doc = dict(store.doc(0))
    del doc["misc"]
    with pytest.raises(InvalidTrial):
        HyperoptTrials.from_state([], [doc], store.allocated)


def test_failed_trial_survives_a_searcher_state_round_trip():
    a = HyperOptSearch({"x": uniform(0, 1)}, metric="m", mode="min", random_state_seed=0,
                       n_initial_points=2)
    for i in range(3):
        a.suggest(str(i))
    a.on_trial_complete("0", {"m": 0.5})
    a.on_trial_complete("1", error=True)
    b = HyperOptSearch({"x": uniform(0, 1)}, metric="m", mode="min", random_state_seed=0,
                       n_initial_points=2)
    b.set_state(json.loads(json.dumps(a.get_state())))
    b.on_trial_complete("1", error=True)  # a repeated completion: a second record
    assert len(b.get_state()["settled"]) == len(a.get_state()["settled"]) + 1
    assert latest(b.get_state()["settled"]) == latest(json.loads(json.dumps(
        a.get_state()["settled"])))
    assert b.suggest("3") == a.suggest("3")


def test_a_point_that_is_not_a_dict_is_named():
    with pytest.raises(ValueError, match=r"points_to_evaluate\[1\] must be a dict, got 3"):
        VariantPlan({"a": uniform(0, 1)}, 1, [{"a": 0.5}, 3])


def test_variant_generator_module_offers_the_seed_names():
    for name in ("BasicVariantGenerator", "generate_variants", "grid_search"):
        assert name in variant_generator.__all__ and hasattr(variant_generator, name)


def _modules():
    return sorted(p for p in SEARCH_DIR.glob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_each_module_is_small_and_says_what_it_does(path):
    source = path.read_text()
    tree = ast.parse(source)
    first_line = (ast.get_docstring(tree) or "").split("\n")[0]
    assert first_line.endswith(".") and len(first_line) > 20, path.name
    assert source.count("\n") <= 320, f"{path.name} has {source.count(chr(10))} lines"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_no_private_names_imported_across_modules(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tuneflows"):
            private = [a.name for a in node.names if a.name.startswith("_")]
            assert not private, f"{path.name} imports {private} from {node.module}"


def test_tpe_s_documents_are_walked_once_per_suggestion_not_per_completed_trial(monkeypatch):
    from hyperopt import Trials

    from tuneflows.search import HyperOptSearch, uniform

    walks = []
    refresh = Trials.refresh
    monkeypatch.setattr(Trials, "refresh", lambda self: walks.append(1) or refresh(self))
    search = HyperOptSearch({"x": uniform(0, 1)}, metric="loss", mode="min",
                            n_initial_points=5, random_state_seed=0)
    losses = []
    for i in range(30):
        losses.append(search.suggest(str(i))["x"])
        if i == 0:
            walks.clear()  # hyperopt's Trials refreshes once when it is made
        search.on_trial_complete(str(i), {"loss": losses[-1]})
    assert len(walks) == 29  # the new document's insertion; a completed one is seen as is
    search.suggest("failing")
    search.on_trial_complete("failing", error=True)
    walks.clear()
    search.suggest("after")
    assert len(walks) == 2  # the failed document leaves what TPE reads, once
    assert search.best_result()["value"] == min(losses)
