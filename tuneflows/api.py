"""``run_experiments``: the seed's entry point."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sys
from typing import Mapping, Optional, Union

from tuneflows.orchestration.algorithm_choice import make_searcher, resolve_scheduler, resolve_search_alg
from tuneflows.model.best_trial import experiment_metric
from tuneflows.error import SpecError, TuneError, spec_errors
from tuneflows.execution.ray_session import cluster_resources, ensure_ray
from tuneflows.recording.mlflow.runs import tracking_client
from tuneflows.orchestration.experiment_request import ExperimentRequest
from tuneflows.runs.state import load_state
from tuneflows.services.prefect_api import PrefectApiStart
from tuneflows.services.prefect_limits import report_prefect_outage
from tuneflows.recording.mlflow.writer_pool import MlflowWriterPool
from tuneflows.recording.status_block import verbosity_level
from tuneflows.orchestration.resume import saved_state_to_resume
from tuneflows.orchestration.run_endings import cancelled, interrupted
from tuneflows.rest.guards import resolve_server_token
from tuneflows.schedulers import TrialScheduler
from tuneflows.search.searcher import Searcher
from tuneflows.spec import Experiment, normalize_experiments
from tuneflows.services.startup_timeline import mark
from tuneflows.trainable import Trainable
from tuneflows.trial import ERROR, Trial
from tuneflows.model.trial_outcome import failures_text
from tuneflows.orchestration.warm_start import DEFAULT_LIMIT, check_warm_start, start_from_previous_run

logger = logging.getLogger(__name__)


def run_experiments(
    experiments: Union[Experiment, dict, list],
    scheduler: Union[TrialScheduler, str, None] = None,
    with_server: bool = False,
    server_port: int = 4321,
    verbose: Union[bool, int] = True,
    queue_trials: bool = False,
    resume: Union[bool, str] = False,
    *,
    search_alg: Union[Searcher, str, None] = None,
    metric: Optional[str] = None,
    mode: Optional[str] = None,
    raise_on_failed_trial: bool = True,
    ray_address: Optional[str] = None,
    round_seconds: float = 5.0,
    max_concurrent_trials: Optional[int] = None,
    flow_retries: int = 0,
    warm_start: Union[str, bool, None] = None,
    warm_start_trials: int = DEFAULT_LIMIT,
    server_host: str = "127.0.0.1",
    server_token: Optional[str] = None,
    mlflow_tags: Optional[Mapping[str, str]] = None,
) -> list[Trial]:
    """Runs experiments, each as a Prefect flow whose trials run on Ray actors.

    Example:
        >>> import tuneflows
        >>> trials = tuneflows.run_experiments({  # doctest: +SKIP
        ...     "my_experiment": {
        ...         "run": "train_func",
        ...         "stop": {"mean_accuracy": 99},
        ...         "config": {"lr": tuneflows.grid_search([0.2, 0.4, 0.6])},
        ...     }
        ... })

    Args:
        experiments: A dict of name to spec, an :class:`Experiment`, or a list of them.
        scheduler: A TrialScheduler, or a name such as ``"asha"`` (default FIFO).
        with_server: Start a TuneServer (REST, on 127.0.0.1) for the Client API
            (``tuneflows.web_server.TuneClient``) while the experiments run.
        server_port: Port of the TuneServer.
        verbose: How much the terminal shows. ``True`` (the default) or ``2``: the
            ``== Status ==`` block and each round's latest result of every trial (the
            seed's ``Result for <trial>:`` lines); ``False`` or ``1``: only the status
            block (in a terminal it refreshes in place, elsewhere it prints at most
            every 30 s and at the end), then where to look; ``0``: nothing. (``False``
            is the seed's "no per-trial results", not silence.)
        queue_trials: Accept trials needing more resources than the cluster has now
            (an autoscaling cluster will grow).
        resume: Each run of an experiment has its own directory
            ``<local_dir>/<name>/<run id>/``. ``False`` (the default) starts a new run, as
            re-running a seed-era script did. ``True`` continues the newest unfinished run
            of the experiment from its saved state (finished trials are not re-run), and
            is an error when there is none; ``"AUTO"`` does the same but starts a new run
            when there is none; ``"ERRORED_ONLY"`` re-runs the failed trials of the newest
            run; a run id (``"2026-12-02_00-31-05_ab12"``) continues that run. Inside a
            Prefect flow run on a retry, the run that flow run started is continued
            whatever ``resume`` says. Resuming with a spec (trainable, config, stop,
            samples, resources, checkpointing, max_failures) other than the saved one is
            an error listing the differences.
        search_alg: Where configurations come from: a Searcher or a name such as
            ``"hyperopt"`` (default: grid × samples).
        metric: The result key a scheduler or searcher named by string optimises (and
            the one the status block and summaries rank by).
        mode: ``"max"`` or ``"min"`` (default ``"max"``) for ``metric``.
        raise_on_failed_trial: Raise TuneError when any trial ends in ERROR.
        ray_address: An existing Ray cluster (default: ``RAY_ADDRESS`` or a local Ray).
        round_seconds: Longest wall-clock slice of a round before results are recorded.
        max_concurrent_trials: Most trials running at once.
        flow_retries: Prefect retries of each experiment's flow run; a retry resumes
            the experiment from its saved state instead of starting over.
        warm_start: ``"previous"``: before the first trial, the best
            ``warm_start_trials`` trials of the experiment's previous run (its newest
            MLflow parent run) are told to the searcher with their results, so TPE
            conditions on them (the new parent run's tags
            ``tuneflows.warm_start.parent_run_id`` and ``tuneflows.warm_start.trials``
            say from where and how many); they are not run again (a searcher that does not learn
            from results, such as grid × samples, ignores them). Not for a resumed
            experiment, whose searcher state already holds them.
        warm_start_trials: How many of the previous run's best trials a warm start reads.
        server_host: Interface the TuneServer binds (default ``127.0.0.1``); any other
            than a loopback address needs a token.
        server_token: Bearer token the TuneServer requires of every request (default
            ``TUNEFLOWS_SERVER_TOKEN``; ``TuneClient(..., token=...)`` sends it).
        mlflow_tags: More tags of each experiment's MLflow parent run (e.g. the dataset
            a triggered run tunes on).

    Returns:
        The trials of every experiment.

    Raises:
        SpecError: A bad spec or argument, before any trial starts (a TuneError, as the
            seed raised, and a ValueError).
        TuneError: Some trials failed (names each, its exception and error file).
        ExperimentCancelled: The experiment's Prefect flow run was cancelled (the message
            says how to resume it). Inside a deployment's flow run that was cancelled,
            Prefect's ``Abort`` instead: the worker ends the flow run Cancelled.
        ExperimentInterrupted: Ctrl-C stopped it (a ``KeyboardInterrupt``; the message
            says how to resume it).
    """
    with spec_errors():  # every bad argument fails here, before anything starts
        level = verbosity_level(verbose)
        if with_server:
            resolve_server_token(server_host, server_token)
        exps = normalize_experiments(experiments)
        names = [e.name for e in exps]
        if len(set(names)) != len(names):
            raise ValueError(f"Experiment names must be unique, got {names}.")
        sched = resolve_scheduler(scheduler, metric, mode, [exp.stop for exp in exps])
        searchers = [make_searcher(exp, sched, resolve_search_alg(search_alg, metric, mode,
                                                                  exp.points_to_evaluate),
                                   metric, mode) for exp in exps]
        flow_run_id, retrying = _calling_flow_run()
        states = [saved_state_to_resume(exp, resume, flow_run_id, retrying) for exp in exps]
    parent_tags = [{str(k): str(v) for k, v in (mlflow_tags or {}).items()} for _ in exps]
    if check_warm_start(warm_start, warm_start_trials):
        for exp, searcher, state, tags in zip(exps, searchers, states, parent_tags):
            if state is None:  # before the writers open the store: reading never creates it
                judged_by, judged_mode = experiment_metric(sched, searcher, exp.stop, metric, mode)
                tags.update(start_from_previous_run(
                    searcher, tracking_client(local_dir=exp.local_dir), exp.name,
                    judged_by, judged_mode, warm_start_trials).tags())
    # MLflow's store (in the writer processes), Prefect's API server and Ray start side by side.
    # The Prefect server first: a new database's migration is the longest of the three.
    prefect_api = PrefectApiStart(warm_imports=["tuneflows.orchestration.flow"])
    mlflow_writers = MlflowWriterPool.shared()
    for exp in exps:
        mlflow_writers.prepare(exp.name, exp.local_dir)
    ensure_ray(ray_address)
    mark("Ray ready")
    total = cluster_resources()
    prefect_api.wait(announce=level > 0)  # before any error: a next call must not start it again
    mark("Prefect API ready")
    for exp in exps:
        _check_fits(exp, total, queue_trials)
    all_trials: list[Trial] = []
    server = None
    if with_server:
        from tuneflows.rest.server import TuneServer

        server = TuneServer(port=server_port, host=server_host, token=server_token)
    try:
        for exp, searcher, state, tags in zip(exps, searchers, states, parent_tags):
            request = ExperimentRequest(
                exp, sched, searcher, total_resources=total, round_seconds=round_seconds,
                max_concurrent=max_concurrent_trials, verbose=level, resume_state=state,
                metric=metric, mode=mode, flow_run_id=flow_run_id, parent_tags=tags,
                errored_only=resume == "ERRORED_ONLY", fail_on_errored_trials=raise_on_failed_trial,
                on_loop=server.attach if server is not None else None,  # the Client API follows
            )
            all_trials.extend(_run_flow(exp.name, request, flow_retries))
    finally:
        if server is not None:
            server.shutdown()
    failed = [t for t in all_trials if t.status == ERROR]
    if failed and raise_on_failed_trial:
        raise TuneError(failures_text(all_trials))
    return all_trials


def _calling_flow_run() -> tuple[Optional[str], bool]:
    """The id of the Prefect flow run calling ``run_experiments`` (None outside one)
    and whether it is on a retry (its run directory is then continued)."""
    if "prefect" not in sys.modules:
        return None, False  # nothing imported Prefect: no flow run can be running
    from prefect.runtime import flow_run

    run_id = flow_run.id
    return (str(run_id), flow_run.run_count > 1) if run_id else (None, False)


def _check_fits(exp: Experiment, total: dict[str, float], queue_trials: bool) -> None:
    """Refuses an experiment whose trials ask for more than the cluster has, unless
    ``queue_trials`` (an autoscaling cluster); a resource the cluster has none of is
    refused even then, as the seed did.

    Raises:
        SpecError: naming the resource, the request and the cluster's total.
    """
    for key in ("cpu", "gpu"):
        have = total.get(key, 0)
        if exp.resources[key] > have and (not queue_trials or have <= 0):
            hint = ""
            if isinstance(exp.trainable, type) and issubclass(exp.trainable, Trainable):
                hint = exp.trainable.resource_help(exp.config)
            raise SpecError(
                f"Experiment {exp.name!r}: each trial asks for {exp.resources[key]:g} "
                f"{key.upper()}s but the Ray cluster has {have:g}; lower "
                f"resources_per_trial[{key!r}]"
                + (" or pass queue_trials=True on an autoscaling cluster." if have > 0 else ".")
                + (f" {hint}" if hint else "")
            )


def _run_flow(name: str, request: ExperimentRequest, retries: int) -> list[Trial]:
    from tuneflows.orchestration.flow import ExperimentParameter, experiment_flow

    flow_fn = experiment_flow.with_options(retries=retries) if retries else experiment_flow
    parameter = ExperimentParameter(request)
    coro_factory = lambda: flow_fn(experiment_name=name, experiment=parameter)  # noqa: E731
    try:
        asyncio.get_running_loop()
        in_running_loop = True
    except RuntimeError:
        in_running_loop = False
    # Not inside the ``except``: a log line with exc_info (Prefect's, for a failed task
    # run) would print the RuntimeError caught there as its traceback.
    exp = request.experiment
    interruption: Optional[BaseException] = None
    try:
        if in_running_loop:
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                pool.submit(lambda: asyncio.run(coro_factory())).result()
        else:
            asyncio.run(coro_factory())
    except KeyboardInterrupt:
        if parameter.stopped_by != "SIGINT":
            raise
        interruption = interrupted(name, exp.dir)  # stopped cleanly: one line, how to resume
    except Exception:
        if parameter.trials is None:
            raise
        # the experiment ran to its end; its flow run is Failed (trials errored) or
        # Cancelled (in Prefect), or the Prefect API did not take its final state
        if parameter.prefect_outage is not None and parameter.prefect_outage.down:
            parameter.prefect_outage.skipped("the flow run's final state")
    finally:
        if parameter.prefect_outage is not None:
            report_prefect_outage(name, parameter.prefect_outage)
    if interruption is not None:
        raise interruption from None
    if parameter.cancelled is not None:
        raise cancelled(name, exp.dir, parameter.cancelled)
    if parameter.trials is None:  # a retried parent flow run reused this completed subflow
        state = load_state(request.experiment.dir)
        return [Trial(**fields) for fields in state.trials] if state else []
    return parameter.trials
