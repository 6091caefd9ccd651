"""The arguments of Ray Tune's ``tune.run``, ``TuneConfig`` and ``RunConfig`` that
tuneflows refuses, each with why. An argument is either taken (``tuneflows.run``'s
signature, the config dataclasses) or refused here: never silently ignored.

Example:
    >>> refuse("tuneflows.run", {"callbacks": [object()], "log_to_file": False})
    Traceback (most recent call last):
    ...
    ValueError: tuneflows.run: callbacks is not supported: tuneflows records every result itself (trial files, TensorBoard, MLflow, Prefect); Ray Tune's Callback hooks are not called.
"""

from __future__ import annotations

from typing import Any, Mapping

#: Refused argument -> why. Each is refused only with a value other than its default
#: (``DEFAULTS``), so a program passing Ray Tune's default runs.
REFUSED: dict[str, str] = {
    "callbacks": "tuneflows records every result itself (trial files, TensorBoard, MLflow, "
                 "Prefect); Ray Tune's Callback hooks are not called",
    "progress_reporter": "the terminal shows tuneflows' status block (verbose=0|1|2); the "
                         "Prefect and MLflow UIs are the dashboards",
    "log_to_file": "a trial's stdout and stderr stay in Ray's worker logs",
    "trial_name_creator": "trial names (<trainable>_<tag>) key the state, the MLflow runs and "
                          "resume",
    "trial_dirname_creator": "trial directories are named after the trial (<trainable>_<tag>) "
                             "and read back by resume and Analysis",
    "sync_config": "results stay on the driver's disk; MLflow (MLFLOW_TRACKING_URI with an "
                   "artifact store) is where they are shared",
    "storage_filesystem": "results stay on the driver's local disk (storage_path is a local "
                          "directory); MLflow is where they are shared",
    "export_formats": "tuneflows exports no models; checkpoints are kept as trial "
                      "directories and MLflow artifacts",
    "resume_config": "pass resume=True|'AUTO'|'ERRORED_ONLY' (or Tuner.restore)",
    "chdir_to_trial_dir": "trials run in their actor's working directory (Ray Tune 2 "
                          "deprecated the setting)",
    "upload_dir": "results stay on the driver's disk; MLflow is where they are shared",
    "sync_to_cloud": "results stay on the driver's disk; MLflow is where they are shared",
    "sync_to_driver": "the driver records every result and checkpoint itself",
    "loggers": "tuneflows writes result.json, progress.csv, TensorBoard and MLflow itself",
    "server_port": "use run_experiments(with_server=True, server_port=...) for the Client API",
    "global_checkpoint_period": "the experiment state is written as the experiment runs",
    "ray_auto_init": "tuneflows starts Ray itself when it is not running",
    "storage_path (remote)": "results stay on the driver's local disk; MLflow is where they "
                             "are shared",
    "resources_per_trial (placement group)": "a trial asks for CPUs and GPUs on one actor "
                                             "({'cpu': c, 'gpu': g}); placement groups are "
                                             "not supported",
    "restart_errored": "errored trials resume from their latest checkpoint: pass "
                       "resume_errored=True",
    "resume_unfinished": "a restored run always continues its unfinished trials",
}

#: The values of refused arguments that mean "not used" (Ray Tune's defaults).
DEFAULTS: dict[str, tuple[Any, ...]] = {
    "log_to_file": (False,),
    "chdir_to_trial_dir": ("DEPRECATED",),
    "resume_unfinished": (True,),
    "restart_errored": (False,),
}


def refuse(where: str, given: Mapping[str, Any]) -> None:
    """Raises for the first argument in ``given`` that is refused (with a value other
    than its default) or unknown.

    Args:
        where: The call, for the message (``"tuneflows.run"``, ``"RunConfig"``).
        given: Argument names to the values passed.

    Raises:
        ValueError: Naming the argument and why it is refused, or that it is unknown.
    """
    for name, value in given.items():
        if value is None or value in DEFAULTS.get(name, ()):
            continue
        if name not in REFUSED:
            raise ValueError(f"{where}: unknown argument {name!r}.")
        raise ValueError(f"{where}: {name} is not supported: {REFUSED[name]}.")
