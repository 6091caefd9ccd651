"""Seed-era import path ``ray.tune.variant_generator``: ``grid_search``,
``generate_variants`` and ``BasicVariantGenerator`` (from
:mod:`tuneflows.search.variant_generator`), the seed's ``generate_trials`` and
``RecursiveDependencyError``.

Example:
    >>> from tuneflows.variant_generator import generate_variants, grid_search
    >>> [v for v, _ in generate_variants({"a": grid_search([1, 2])})]
    [{'a': 1}, {'a': 2}]
"""

from __future__ import annotations

import uuid
from typing import Any, Iterator, Mapping

from tuneflows.control.controller import TrialController
from tuneflows.error import SpecError, spec_errors
from tuneflows.orchestration.algorithm_choice import make_searcher
from tuneflows.schedulers import FIFOScheduler
from tuneflows.search.searcher import FINISHED
from tuneflows.search.spec_view import RecursiveDependencyError
from tuneflows.search.variant_generator import BasicVariantGenerator, generate_variants, grid_search
from tuneflows.spec import Experiment
from tuneflows.trial import Trial

__all__ = ["BasicVariantGenerator", "RecursiveDependencyError", "generate_trials",
           "generate_variants", "grid_search"]


def generate_trials(unresolved_spec: Mapping[str, Any], output_path: str = "") -> Iterator[Trial]:
    """The trials of an experiment spec, as ``run_experiments`` would make them: this
    project's own :class:`~tuneflows.trial.Trial` objects (PENDING, not started) with the
    seed's names and tags (``PPO_Pong-v0_0``, ``"1_bar=False,foo=1"``), ``repeat`` times
    the grid, lambdas and ``{"eval": ...}`` values resolved.

    Example:
        >>> from tuneflows import register_trainable
        >>> register_trainable("f", lambda config, reporter: None)
        >>> [t.experiment_tag for t in generate_trials(
        ...     {"run": "f", "config": {"foo": grid_search([1, 2]), "x": {"eval": "2 + 2"}}},
        ...     "demo")]
        ['0_foo=1,x=4', '1_foo=2,x=4']

    Args:
        unresolved_spec: An experiment spec (``run``, ``config``, ``repeat``, ``stop``,
            ``local_dir``, ``max_failures``…; an ``env`` moves into ``config``).
        output_path: The experiment's name: trials' ``local_dir`` is
            ``<local_dir>/<output_path>`` (``"default"`` when empty).

    Raises:
        SpecError: A bad spec (a TuneError and a ValueError), e.g. no ``run``;
            RecursiveDependencyError (one of them) for lambdas that read each other.
    """
    if not isinstance(unresolved_spec, Mapping) or "run" not in unresolved_spec:
        raise SpecError(f"Must specify `run` in {unresolved_spec!r}.")
    with spec_errors():
        experiment = Experiment.from_spec(output_path or "default", unresolved_spec)
        scheduler = FIFOScheduler()
        searcher = make_searcher(experiment, scheduler, None)
        trials = TrialController(experiment, uuid.uuid4().hex[:10], scheduler, searcher, 1)
    while True:
        trial_id = trials.next_trial_id()
        with spec_errors():
            config = searcher.suggest(trial_id)
        if config is None or config == FINISHED:
            return
        yield trials.add_trial(config, searcher.experiment_tag(trial_id), trial_id)
