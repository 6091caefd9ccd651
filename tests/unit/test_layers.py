"""The package's layers, as an import walk: each module's imports (read from its source,
not run) point down the layer table of docs/architecture.md; engines stay at the edges;
no import cycles, and no import inside a function that dodges one. Subprocess checks
cover what only running shows: the pure layers set no environment variable and import
no engine, and the read-only CLI commands start no Ray."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# The layer table, lowest first: a module may import its own layer and those listed.
MODEL, DECISIONS, SPEC, CONTROL, EXECUTION, RUNS, SERVICES, RECORDING, ORCHESTRATION, \
    INTERFACES = ("model", "decisions", "spec", "control", "execution", "runs", "services",
                  "recording", "orchestration", "interfaces")
MAY_IMPORT = {
    MODEL: set(),
    DECISIONS: {MODEL},
    SPEC: {MODEL, DECISIONS},
    CONTROL: {MODEL, DECISIONS, SPEC},
    EXECUTION: {MODEL, SPEC, SERVICES},
    RUNS: {MODEL, DECISIONS, SPEC},
    SERVICES: {MODEL},
    RECORDING: {MODEL, DECISIONS, SPEC, CONTROL, RUNS, SERVICES},
    ORCHESTRATION: {MODEL, DECISIONS, SPEC, CONTROL, EXECUTION, RUNS, SERVICES, RECORDING},
    INTERFACES: {MODEL, DECISIONS, SPEC, CONTROL, EXECUTION, RUNS, SERVICES, RECORDING,
                 ORCHESTRATION},
}
ENGINES = {"ray", "prefect", "prefect_ray", "mlflow", "filelock", "rich", "fastapi", "uvicorn",
           "httpx", "tensorboardX"}
# Engines each layer may import (at module level or in a function).
MAY_USE = {
    MODEL: set(), DECISIONS: set(), SPEC: set(), CONTROL: set(),
    EXECUTION: {"ray"},
    RUNS: {"filelock"},
    SERVICES: {"filelock", "prefect", "httpx"},
    RECORDING: {"mlflow", "prefect", "rich", "tensorboardX", "filelock"},
    ORCHESTRATION: {"ray", "prefect", "prefect_ray", "mlflow", "rich"},
    INTERFACES: ENGINES,
}
ROOT_MODEL = {"error", "result", "trial", "trainable", "registry", "checkpoint"}
ROOT_SPEC = {"spec", "experiment"}
# What the root may hold besides the model and the spec: the public API and the
# seed-era module paths, each a thin re-export.
ROOT_INTERFACES = {"__init__", "api", "analysis", "async_hyperband", "hyperband",
                   "median_stopping_rule", "pbt", "hpo_scheduler", "trial_scheduler",
                   "variant_generator", "suggest", "web_server", "util", "stopper"}
FOLDERS = {"model": MODEL, "schedulers": DECISIONS, "search": DECISIONS, "control": CONTROL,
           "execution": EXECUTION, "runs": RUNS, "services": SERVICES,
           "recording": RECORDING, "orchestration": ORCHESTRATION, "cli": INTERFACES,
           "rest": INTERFACES, "modern": INTERFACES, "suggest": INTERFACES}


@dataclass(frozen=True)
class Import:
    source: str
    target: str  # a tuneflows module, or an engine's top-level name
    line: int
    in_function: bool


def _modules() -> dict[str, Path]:
    found = {}
    for base, package in ((REPO / "tuneflows", "tuneflows"),
                          (REPO / "schedulers", "tuneflows.schedulers")):
        for path in base.rglob("*.py"):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


MODULES = _modules()


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or (len(parts) == 2 and parts[1] not in FOLDERS):
        name = parts[1] if len(parts) == 2 else "__init__"
        if name in ROOT_MODEL:
            return MODEL
        if name in ROOT_SPEC:
            return SPEC
        assert name in ROOT_INTERFACES, (
            f"tuneflows/{name}.py: the root holds only what users import; give it a layer's "
            f"folder or list it in the layer table")
        return INTERFACES
    return FOLDERS[parts[1]]


def _resolve(name: str) -> str:
    """The tuneflows module an imported dotted name loads (a module, or the package
    that defines the name)."""
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def _imports(module: str) -> list[Import]:
    tree = ast.parse(MODULES[module].read_text())
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                names = [f"{child.module}.{alias.name}" for alias in child.names]
            for name in names:
                top = name.split(".")[0]
                if top == "tuneflows":
                    found.append(Import(module, _resolve(name), child.lineno, inner))
                elif top in ENGINES:
                    found.append(Import(module, top, child.lineno, inner))
            visit(child, inner)

    visit(tree, False)
    return found


IMPORTS = {module: _imports(module) for module in MODULES}


def _where(imp: Import) -> str:
    return f"{MODULES[imp.source].relative_to(REPO)}:{imp.line} imports {imp.target}"


def test_the_root_holds_only_what_users_import():
    root = {path.stem for path in (REPO / "tuneflows").glob("*.py")}
    assert root <= ROOT_MODEL | ROOT_SPEC | ROOT_INTERFACES, sorted(
        root - ROOT_MODEL - ROOT_SPEC - ROOT_INTERFACES)


def test_every_import_points_down_the_layer_table():
    wrong = []
    for module, imports in IMPORTS.items():
        layer = layer_of(module)
        for imp in imports:
            if imp.target in ENGINES or imp.target == "tuneflows":
                continue
            target = layer_of(imp.target)
            if target != layer and target not in MAY_IMPORT[layer]:
                wrong.append(f"{_where(imp)}: {layer} may not import {target}")
    assert wrong == []


def test_engines_stay_at_the_edges():
    wrong = [f"{_where(imp)}: {layer_of(module)} may not use {imp.target}"
             for module, imports in IMPORTS.items() for imp in imports
             if imp.target in ENGINES and imp.target not in MAY_USE[layer_of(module)]]
    assert wrong == []


def test_recording_reads_decisions_through_their_public_packages_only():
    wrong = [_where(imp) for module, imports in IMPORTS.items()
             if layer_of(module) in (RECORDING, RUNS) for imp in imports
             if imp.target not in ENGINES and layer_of(imp.target) == DECISIONS
             and imp.target not in ("tuneflows.schedulers", "tuneflows.search")]
    assert wrong == []


def _module_level_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for module, imports in IMPORTS.items():
        for imp in imports:
            if not imp.in_function and imp.target in MODULES and imp.target != module:
                graph[module].add(imp.target)
                # importing a submodule runs its packages' __init__ first
                parent = imp.target.rsplit(".", 1)[0]
                while parent in MODULES and parent != module and module.startswith(parent) is False:
                    graph[module].add(parent)
                    parent = parent.rsplit(".", 1)[0] if "." in parent else ""
    return graph


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_no_import_cycles():
    graph = _module_level_graph()
    cycles = sorted(module for module in MODULES if module in _reachable(graph, module))
    assert cycles == []


def test_no_import_inside_a_function_dodges_a_cycle():
    graph = _module_level_graph()
    dodges = [_where(imp) for module, imports in IMPORTS.items() for imp in imports
              if imp.in_function and imp.target in MODULES
              and module in _reachable(graph, imp.target) | {imp.target}]
    assert dodges == []


def _run(code: str) -> dict:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("RAY_", "PREFECT_", "MLFLOW_", "DO_NOT_TRACK"))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=120, cwd=str(REPO))
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


WATCH = "import json, os, sys; before = set(os.environ)\n"
REPORT = ("print(json.dumps({'env': sorted(set(os.environ) - before), "
          "'engines': sorted(m for m in %r if m in sys.modules)}))" % sorted(ENGINES))


@pytest.mark.parametrize("package", ["tuneflows.schedulers", "tuneflows.search", "tuneflows"])
def test_pure_layers_set_no_environment_and_load_no_engine(package):
    seen = _run(WATCH + f"import {package}\n" + REPORT)
    assert seen == {"env": [], "engines": []}


def test_engine_defaults_are_applied_before_an_engine_loads():
    seen = _run(WATCH + "import tuneflows.execution.trial_actors\n" + REPORT)
    assert "RAY_USAGE_STATS_ENABLED" in seen["env"] and "ray" in seen["engines"]


@pytest.mark.parametrize("command", [["ls"], ["best", "nothing-here"]])
def test_read_only_cli_commands_start_no_ray(tmp_path, command):
    code = (WATCH + "os.environ['TUNE_RESULT_DIR'] = %r\n" % str(tmp_path)
            + "from tuneflows.cli import main\n"
            + "import contextlib, io\n"
            + "with contextlib.redirect_stdout(io.StringIO()), "
              "contextlib.redirect_stderr(io.StringIO()):\n"
            + f"    main({command!r})\n" + REPORT)
    assert "ray" not in _run(code)["engines"]


def test_every_package_that_loads_an_engine_applies_the_defaults_first():
    settings_read_on_import = {"ray", "prefect", "prefect_ray", "mlflow"}
    packages = {module.split(".")[1] for module, imports in IMPORTS.items()
                if module.count(".") >= 2 and module.startswith("tuneflows.")
                and any(imp.target in settings_read_on_import for imp in imports)}
    missing = [package for package in sorted(packages)
               if "apply_defaults()" not in (REPO / "tuneflows" / package / "__init__.py").read_text()]
    assert packages and missing == []
