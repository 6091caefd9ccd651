"""The schedulers' docstring examples run, and every public class documents itself."""

import doctest
import importlib
import inspect
import pkgutil

import pytest

import tuneflows.schedulers as schedulers
from tuneflows.schedulers import SCHEDULERS, FIFOScheduler

MODULES = ["tuneflows.schedulers", "tuneflows.model.by_name"] + [
    f"tuneflows.schedulers.{info.name}" for info in pkgutil.iter_modules(schedulers.__path__)
]
PUBLIC_CLASSES = [getattr(schedulers, name) for name in schedulers.__all__
                  if inspect.isclass(getattr(schedulers, name))]


def test_every_module_is_listed():
    assert "tuneflows.schedulers.hyperopt_fifo" in MODULES and len(MODULES) >= 9


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0


@pytest.mark.parametrize("cls", PUBLIC_CLASSES, ids=lambda cls: cls.__name__)
def test_public_classes_have_a_runnable_example(cls):
    doc = inspect.getdoc(cls) or ""
    assert "Example:" in doc and ">>>" in doc, cls.__name__
    takes_arguments = [p for p in inspect.signature(cls).parameters]
    if takes_arguments and cls in SCHEDULERS.values():
        assert "Args:" in doc, cls.__name__


@pytest.mark.parametrize("cls", sorted(set(SCHEDULERS.values()) - {FIFOScheduler},
                                       key=lambda cls: cls.__name__),
                         ids=lambda cls: cls.__name__)
def test_algorithms_cite_their_paper(cls):
    assert "Reference:" in (inspect.getdoc(cls) or ""), cls.__name__
