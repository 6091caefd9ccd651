"""The ``tuneflows`` command: run experiments from a YAML spec, resume killed ones,
replay trial files into MLflow."""

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
    """``tuneflows run SPEC [--scheduler NAME] [--search NAME] [--metric M --mode max|min]
    [--num-samples N] [--resume [AUTO|ERRORED_ONLY]]``."""
    import tuneflows

    spec = load_spec(args.spec)
    if args.num_samples is not None:
        if args.num_samples < 1:
            raise ValueError(f"--num-samples must be at least 1, got {args.num_samples}.")
        for settings in spec.values():
            settings.pop("repeat", None)
            settings["num_samples"] = args.num_samples
    trials = tuneflows.run_experiments(
        spec, scheduler=args.scheduler, search_alg=args.search, metric=args.metric,
        mode=args.mode, ray_address=args.ray_address, resume=args.resume,
        raise_on_failed_trial=False,
    )
    return 1 if any(t.status == "ERROR" for t in trials) else 0


def cmd_resume(args: argparse.Namespace) -> int:
    """``tuneflows resume <experiment dir>``: continues a killed experiment with the
    trainable, scheduler and searcher it was started with (``experiment.pkl``: the
    one pickle tuneflows loads, and only here, at the user's request)."""
    import tuneflows
    from tuneflows.error import TuneError
    from tuneflows.experiment_state import CONFIGURATION_FILE, load_state

    directory = os.path.abspath(args.experiment_dir)
    state = load_state(directory)
    configuration = os.path.join(directory, CONFIGURATION_FILE)
    if state is None or not os.path.exists(configuration):
        raise TuneError(f"{directory!r} holds no tuneflows experiment state to resume.")
    with open(configuration, "rb") as f:
        experiment, scheduler, searcher = cloudpickle.load(f)
    experiment.local_dir = os.path.dirname(directory)
    trials = tuneflows.run_experiments(
        experiment, scheduler=scheduler, search_alg=searcher,
        resume="ERRORED_ONLY" if args.errored_only else True,
        ray_address=args.ray_address,
        raise_on_failed_trial=False,
    )
    return 1 if any(t.status == "ERROR" for t in trials) else 0


def _resume_mode(value: str) -> Any:
    modes = {"auto": "AUTO", "errored_only": "ERRORED_ONLY", "true": True}
    key = value.strip().lower().replace("-", "_")
    if key not in modes:
        raise argparse.ArgumentTypeError(f"expected AUTO or ERRORED_ONLY, got {value!r}")
    return modes[key]


def build_parser() -> argparse.ArgumentParser:
    """The ``tuneflows`` command line."""
    from tuneflows.cli_inspect import cmd_best, cmd_ls
    from tuneflows.mlflow_sync import cmd_sync_mlflow
    from tuneflows.state_migration import cmd_migrate_state

    parser = argparse.ArgumentParser(prog="tuneflows", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the experiments of a YAML spec")
    run.add_argument("spec")
    run.add_argument("--scheduler", default=None, help="scheduler name, e.g. asha")
    run.add_argument("--search", default=None, help="search algorithm name, e.g. hyperopt")
    run.add_argument("--metric", default=None, help="result key a named scheduler optimises")
    run.add_argument("--mode", default=None, choices=["max", "min"])
    run.add_argument("--num-samples", type=int, default=None, help="samples of each spec")
    run.add_argument("--resume", nargs="?", const=True, default=False, type=_resume_mode,
                     help="continue the experiment (AUTO: if there is one; ERRORED_ONLY)")
    run.add_argument("--ray-address", default=None)
    run.set_defaults(handler=cmd_run)
    resume = sub.add_parser("resume", help="continue a killed experiment")
    resume.add_argument("experiment_dir")
    resume.add_argument("--errored-only", action="store_true", help="re-run only failed trials")
    resume.add_argument("--ray-address", default=None)
    resume.set_defaults(handler=cmd_resume)
    ls = sub.add_parser("ls", help="list experiments with status, trials and best metric")
    ls.add_argument("local_dir", nargs="?", default=None)
    ls.set_defaults(handler=cmd_ls)
    best = sub.add_parser("best", help="print an experiment's best config as JSON")
    best.add_argument("experiment_dir")
    best.add_argument("--metric", default=None)
    best.add_argument("--mode", default=None, choices=["max", "min"])
    best.set_defaults(handler=cmd_best)
    migrate = sub.add_parser("migrate-state",
                             help="convert a trusted pickle state of an older tuneflows to JSON")
    migrate.add_argument("experiment_dir")
    migrate.set_defaults(handler=cmd_migrate_state)
    sync = sub.add_parser("sync-mlflow",
                          help="replay an experiment's trial files into MLflow (idempotent)")
    sync.add_argument("run_dir", help="the directory holding experiment_state.json")
    sync.add_argument("--tracking-uri", default=None,
                      help="default: MLFLOW_TRACKING_URI, else <local_dir>/mlflow.db")
    sync.add_argument("--experiment-name", default=None,
                      help="the MLflow experiment (default: from the directory's name)")
    sync.add_argument("--checkpoints", action="store_true",
                      help="also copy the checkpoint directories the runs lack")
    sync.set_defaults(handler=cmd_sync_mlflow)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``tuneflows`` command: exit code 0, 1 (some trial failed) or
    2 (a bad request: one line on stderr; ``--debug`` shows the traceback)."""
    from tuneflows.error import TuneError

    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, TuneError, OSError, KeyError) as exc:
        if args.debug:
            raise
        message = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        message = message or type(exc).__name__
        print(f"tuneflows {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
