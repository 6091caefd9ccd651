"""The docstring examples of every module of the package run (examples that need a
running engine are marked ``+SKIP`` in place)."""

import doctest
import importlib
import pkgutil

import pytest

import tuneflows
import tuneflows.schedulers


def _modules() -> list[str]:
    names = []
    for package in (tuneflows, tuneflows.schedulers):
        names.append(package.__name__)
        names += [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
                  if not m.name.endswith("__main__")]
    return names


MODULES = _modules()


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name, tmp_path, monkeypatch):
    monkeypatch.setenv("TUNE_RESULT_DIR", str(tmp_path))
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0


def test_the_walk_sees_every_layer():
    folders = {name.split(".")[1] for name in MODULES if name.count(".") >= 2}
    assert {"model", "control", "execution", "runs", "recording", "orchestration", "services",
            "cli", "rest", "search"} <= folders


def test_the_architecture_page_lists_every_module_in_its_room():
    import re
    from pathlib import Path

    root = Path(__file__).parents[3]
    page = (root / "docs" / "architecture.md").read_text()
    rooms, room = set(), None
    for line in page.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        if len(cells) == 3 and cells[1].startswith("`") and cells[1].endswith(".py`"):
            room = cells[0].split("`")[1] if cells[0] else room
            rooms.add(room + cells[1].strip("`"))
    modules = {str(p.relative_to(root)) for folder in ("tuneflows", "schedulers")
               for p in (root / folder).rglob("*.py")
               if p.name not in ("__init__.py", "__main__.py") or p.parent.name == "tuneflows"}
    assert modules - rooms == set() and rooms - modules == set()
