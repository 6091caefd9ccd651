"""The ``tuneflows`` command: run experiments from a YAML spec, resume killed ones."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Any, Optional, Sequence

from ray import cloudpickle


def _import_path(path: str) -> Any:
    module_name, _, attr = path.partition(":")
    if not attr:
        raise ValueError(f"Expected 'module:attribute', got {path!r}.")
    sys.path.insert(0, os.getcwd())
    return getattr(importlib.import_module(module_name), attr)


def load_spec(path: str) -> dict[str, Any]:
    """Reads a YAML experiment spec; ``run: module:function`` values are imported."""
    import yaml

    with open(path) as f:
        spec = yaml.safe_load(f)
    if not isinstance(spec, dict) or not spec:
        raise ValueError(f"{path}: expected a mapping of experiment name to settings.")
    for name, settings in spec.items():
        run = settings.get("run") if isinstance(settings, dict) else None
        if isinstance(run, str) and ":" in run:
            settings["run"] = _import_path(run)
    return spec


def cmd_run(args: argparse.Namespace) -> int:
    """``tuneflows run spec.yaml [--scheduler asha]``."""
    import tuneflows

    trials = tuneflows.run_experiments(
        load_spec(args.spec), scheduler=args.scheduler, ray_address=args.ray_address,
        resume=args.resume, raise_on_failed_trial=False,
    )
    return 1 if any(t.status == "ERROR" for t in trials) else 0


def cmd_resume(args: argparse.Namespace) -> int:
    """``tuneflows resume <experiment dir>``: continues a killed experiment."""
    import tuneflows
    from tuneflows.error import TuneError
    from tuneflows.experiment_state import load_state

    directory = os.path.abspath(args.experiment_dir)
    state = load_state(directory)
    if state is None:
        raise TuneError(f"{directory!r} holds no tuneflows experiment state to resume.")
    experiment = cloudpickle.loads(state.experiment)
    experiment.local_dir = os.path.dirname(directory)
    trials = tuneflows.run_experiments(
        experiment,
        scheduler=cloudpickle.loads(state.scheduler) if state.scheduler else None,
        search_alg=cloudpickle.loads(state.searcher) if state.searcher else None,
        resume="ERRORED_ONLY" if args.errored_only else True,
        ray_address=args.ray_address,
        raise_on_failed_trial=False,
    )
    return 1 if any(t.status == "ERROR" for t in trials) else 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``tuneflows`` command."""
    parser = argparse.ArgumentParser(prog="tuneflows", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the experiments of a YAML spec")
    run.add_argument("spec")
    run.add_argument("--scheduler", default=None, help="scheduler name, e.g. asha")
    run.add_argument("--resume", default=False, choices=[False, "AUTO", "ERRORED_ONLY"],
                     type=lambda v: v if v in ("AUTO", "ERRORED_ONLY") else False)
    run.add_argument("--ray-address", default=None)
    run.set_defaults(handler=cmd_run)
    resume = sub.add_parser("resume", help="continue a killed experiment")
    resume.add_argument("experiment_dir")
    resume.add_argument("--errored-only", action="store_true", help="re-run only failed trials")
    resume.add_argument("--ray-address", default=None)
    resume.set_defaults(handler=cmd_resume)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
