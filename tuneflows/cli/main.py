"""The ``tuneflows`` command: run experiments from a YAML spec, resume killed ones,
replay trial files into MLflow."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Any, Optional, Sequence

import cloudpickle

from tuneflows.model.codes import TrialStatus

from tuneflows.model.by_name import close_name_hint


def _import_path(path: str, where: str) -> Any:
    """The object a ``module:attribute`` path names, imported from the current directory
    or ``PYTHONPATH``.

    Raises:
        ValueError: The path is malformed, its module cannot be found or lacks the
            attribute (naming the module and attribute, with close names).
    """
    module_name, _, attr = path.partition(":")
    if not attr:
        raise ValueError(f"{where}: expected 'module:attribute', got {path!r}.")
    sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if module_name == missing or module_name.startswith(missing + "."):
            raise ValueError(
                f"{where}: cannot import module {module_name!r} ({exc}): it must be importable "
                f"from the current directory ({os.getcwd()}) or PYTHONPATH.") from exc
        raise ValueError(f"{where}: importing module {module_name!r} failed: {exc}.") from exc
    if not hasattr(module, attr):
        hint = close_name_hint(attr, [n for n in dir(module) if not n.startswith("_")])
        raise ValueError(f"{where}: module {module_name!r} has no attribute {attr!r}{hint}.")
    return getattr(module, attr)


def _read_yaml(path: str) -> Any:
    """The YAML document in ``path``.

    Raises:
        ValueError: It is not valid YAML (naming the file, line and column).
        OSError: It cannot be read.
    """
    import yaml

    with open(path) as f:
        try:
            return yaml.safe_load(f)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            at = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ValueError(f"{path}{at}: not valid YAML: {exc.problem or exc}.") from exc
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: not valid YAML: {exc}.") from exc


def load_spec(path: str) -> dict[str, Any]:
    """Reads a YAML experiment spec in the seed's shape (:func:`read_spec_file`, which
    also reads ``tune.run``'s and the Tuner's shapes with their run options).

    Raises:
        ValueError: As :func:`read_spec_file`; also for a spec in another shape.
        OSError: The file cannot be read.
    """
    spec, options = read_spec_file(path)
    if options:
        raise ValueError(f"{path}: a spec in tune.run's or the Tuner's shape gives run options "
                         f"({', '.join(options)}); read it with read_spec_file.")
    return spec


def read_spec_file(path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Reads a YAML experiment spec in any of three shapes: the seed's (experiment name
    to settings), ``tune.run``'s or the Tuner's (:mod:`tuneflows.modern.spec_styles`);
    ``run: module:function`` values are imported, and search spaces written as
    ``{uniform: [0.1, 0.6]}`` become domains (:mod:`tuneflows.search.yaml_domains`).

    Returns:
        The seed's spec and the ``run_experiments`` options the spec gives (``metric``,
        ``mode``, ``scheduler``, ``search_alg``...; none in the seed's shape).

    Raises:
        ValueError: The file is not valid YAML, not a spec of these shapes, a ``run``
            path does not import, or a search space is malformed.
        OSError: The file cannot be read.
    """
    from tuneflows.modern.spec_styles import to_seed_spec
    from tuneflows.search.yaml_domains import yaml_config

    spec = _read_yaml(path)
    if not isinstance(spec, dict) or not spec:
        raise ValueError(f"{path}: expected a mapping of experiment name to settings.")
    options: dict[str, Any] = {}
    try:
        styled = to_seed_spec(spec)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    if styled is not None:
        spec, options = styled
    for name, settings in spec.items():
        run = settings.get("run") if isinstance(settings, dict) else None
        if isinstance(run, str) and ":" in run:
            settings["run"] = _import_path(run, f"{name}: run {run!r}")
        if isinstance(settings, dict) and isinstance(settings.get("config"), dict):
            settings["config"] = yaml_config(settings["config"], f"{name}: config")
    return spec, options


def cmd_run(args: argparse.Namespace) -> int:
    """``tuneflows run SPEC [--scheduler NAME] [--search NAME] [--metric M --mode max|min]
    [--num-samples N] [--resume [AUTO|ERRORED_ONLY]]``."""
    import tuneflows

    spec, options = read_spec_file(args.spec)
    if args.num_samples is not None:
        if args.num_samples < 1:
            raise ValueError(f"--num-samples must be at least 1, got {args.num_samples}.")
        for settings in spec.values():
            settings.pop("repeat", None)
            settings["num_samples"] = args.num_samples
    given = {"scheduler": args.scheduler, "search_alg": args.search, "metric": args.metric,
             "mode": args.mode}  # the command line's win over the spec's
    options.update({key: value for key, value in given.items() if value is not None})
    trials = tuneflows.run_experiments(
        spec, ray_address=args.ray_address, resume=args.resume, raise_on_failed_trial=False,
        **options)
    return 1 if any(t.status == TrialStatus.ERROR for t in trials) else 0


def cmd_resume(args: argparse.Namespace) -> int:
    """``tuneflows resume NAME|DIR``: continues a killed run with the trainable,
    scheduler and searcher it was started with (``experiment.pkl``: the one pickle
    tuneflows loads, and only here, at the user's request). ``DIR`` is a run directory,
    or an experiment directory (its newest unfinished run); ``NAME`` an experiment under
    the results directory (``$TUNE_RESULT_DIR`` or ``~/ray_results``)."""
    import tuneflows
    from tuneflows.error import TuneError
    from tuneflows.runs.state import CONFIGURATION_FILE, load_state
    from tuneflows.recording.status_block import RESULTS
    from tuneflows.runs.run_dirs import find_run_dir, read_run_file
    from tuneflows.spec import default_local_dir

    directory = find_run_dir(args.experiment, default_local_dir(),
                             unfinished=not args.errored_only)
    state = load_state(directory)
    configuration = os.path.join(directory, CONFIGURATION_FILE)
    if state is None or not os.path.exists(configuration):
        raise TuneError(f"{directory!r} holds no tuneflows experiment state to resume.")
    with open(configuration, "rb") as f:
        experiment, scheduler, searcher = cloudpickle.load(f)
    experiment.local_dir = os.path.dirname(os.path.dirname(directory))
    experiment.name = os.path.basename(os.path.dirname(directory))
    run_id = os.path.basename(directory)
    what = "Re-running the failed trials of" if args.errored_only else "Resuming"
    print(f"{what} run {run_id} of experiment {experiment.name!r} ({directory})", flush=True)
    trials = tuneflows.run_experiments(
        experiment, scheduler=scheduler, search_alg=searcher,
        resume=_errored_only_of(experiment.experiment_dir, run_id) if args.errored_only
        else run_id,
        ray_address=args.ray_address,
        raise_on_failed_trial=False,
        metric=state.metric, mode=state.mode if state.metric else None,  # as judged before
        verbose=read_run_file(directory).get("verbose", RESULTS) if args.verbose is None
        else args.verbose,
    )
    return 1 if any(t.status == TrialStatus.ERROR for t in trials) else 0


def _errored_only_of(experiment_dir: str, run_id: str) -> str:
    """``"ERRORED_ONLY"``, which re-runs the failed trials of the newest run: refused
    for an older run."""
    from tuneflows.runs.run_dirs import run_dirs

    newest = os.path.basename(run_dirs(experiment_dir)[-1])
    if newest != run_id:
        raise ValueError(f"--errored-only re-runs the failed trials of the newest run "
                         f"({newest}), not of {run_id}.")
    return "ERRORED_ONLY"


def _resume_mode(value: str) -> Any:
    modes = {"auto": "AUTO", "errored_only": "ERRORED_ONLY", "true": True}
    key = value.strip().lower().replace("-", "_")
    if key not in modes:
        raise argparse.ArgumentTypeError(f"expected AUTO or ERRORED_ONLY, got {value!r}")
    return modes[key]


_RAY_ADDRESS_HELP = "the Ray cluster to use (default: a local Ray)"
_RUN_HELP = ("a run directory, an experiment directory (its newest run) or an experiment name "
             "under the results directory")


def build_parser() -> argparse.ArgumentParser:
    """The ``tuneflows`` command line."""
    from tuneflows.cli.inspect_runs import cmd_best, cmd_ls
    from tuneflows.cli.server_command import add_server_parser
    from tuneflows.recording.mlflow.sync import cmd_sync_mlflow
    from tuneflows.runs.state_migration import cmd_migrate_state

    parser = argparse.ArgumentParser(prog="tuneflows",
                                     description=(__doc__ or "").replace("``", ""))
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the experiments of a YAML spec")
    run.add_argument("spec", metavar="SPEC",
                     help="the YAML file mapping experiment names to their settings")
    run.add_argument("--scheduler", default=None, help="scheduler name, e.g. asha")
    run.add_argument("--search", default=None, help="search algorithm name, e.g. hyperopt")
    run.add_argument("--metric", default=None, help="result key a named scheduler optimises")
    run.add_argument("--mode", default=None, choices=["max", "min"],
                     help="whether --metric is maximised or minimised")
    run.add_argument("--num-samples", type=int, default=None, help="samples of each spec")
    run.add_argument("--resume", nargs="?", const=True, default=False, type=_resume_mode,
                     help="continue the newest unfinished run (AUTO: or start a new one; "
                          "ERRORED_ONLY: re-run the failed trials of the newest run)")
    run.add_argument("--ray-address", default=None, help=_RAY_ADDRESS_HELP)
    run.set_defaults(handler=cmd_run)
    resume = sub.add_parser("resume", help="continue a killed run of an experiment")
    resume.add_argument("experiment", metavar="NAME|DIR",
                        help="a run directory, an experiment directory (its newest unfinished "
                             "run) or an experiment name under the results directory")
    resume.add_argument("--errored-only", action="store_true", help="re-run only failed trials")
    resume.add_argument("--verbose", type=int, choices=[0, 1, 2], default=None,
                        help="0 quiet, 1 status block, 2 block and results (default: what "
                             "the run was started with)")
    resume.add_argument("--ray-address", default=None, help=_RAY_ADDRESS_HELP)
    resume.set_defaults(handler=cmd_resume)
    ls = sub.add_parser("ls", help="list experiments and their runs with status, trials and "
                                   "best metric")
    ls.add_argument("local_dir", nargs="?", default=None, metavar="LOCAL_DIR",
                    help="the results directory (default: $TUNE_RESULT_DIR, else ~/ray_results)")
    ls.set_defaults(handler=cmd_ls)
    best = sub.add_parser("best", help="print a run's best config as JSON")
    best.add_argument("run_dir", metavar="RUN", help=_RUN_HELP)
    best.add_argument("--metric", default=None,
                      help="the result key to judge trials by (default: the run's metric)")
    best.add_argument("--mode", default=None, choices=["max", "min"],
                      help="whether --metric is maximised or minimised (default: the run's "
                           "mode, else max)")
    best.set_defaults(handler=cmd_best)
    migrate = sub.add_parser("migrate-state",
                             help="convert a trusted pickle state of an older tuneflows to JSON")
    migrate.add_argument("experiment_dir", help="the directory holding the pickle state")
    migrate.set_defaults(handler=cmd_migrate_state)
    add_server_parser(sub)
    sync = sub.add_parser("sync-mlflow",
                          help="replay an experiment's trial files into MLflow (idempotent)")
    sync.add_argument("run_dir", metavar="RUN", help=_RUN_HELP)
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

