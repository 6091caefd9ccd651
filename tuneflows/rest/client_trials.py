"""Trials a Client API user adds with a whole experiment spec (the seed's
``client.add_trial(name, spec)``): the spec is checked as an experiment's is and its
``config`` expanded by the same variant generator (``grid_search``, ``repeat``).

The running experiment keeps one trainable and one resource shape for all its trials, so
a spec naming another trainable or other resources is refused; ``stop``,
``checkpoint_freq``, ``checkpoint_at_end`` and ``max_failures`` apply to the added
trials only.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from tuneflows.search.config_values import is_eval_dict
from tuneflows.search.experiment_tags import format_vars
from tuneflows.search.variant_generator import generate_variants
from tuneflows.spec import Experiment, with_env_in_config

#: Spec keys a client-added trial may set (others belong to the whole experiment).
CLIENT_SPEC_KEYS = ("run", "stop", "config", "repeat", "num_samples", "trial_resources",
                    "resources_per_trial", "checkpoint_freq", "checkpoint_at_end",
                    "max_failures", "env")
#: Longest tag a client-given name becomes.
MAX_TAG_CHARS = 64


@dataclass(frozen=True)
class ClientTrial:
    """One trial to add: its resolved config, tag and per-trial settings."""

    config: dict[str, Any]
    tag: str
    settings: Mapping[str, Any] = field(default_factory=dict)


def client_tag(name: Optional[str], experiment_name: str) -> str:
    """The tag a client-given ``name`` gives its trials: "" for none or the running
    experiment's name; else letters, digits and ``.=,+-`` only (other runs and ``..``
    become ``_``), at most :data:`MAX_TAG_CHARS` characters.

    Example:
        >>> client_tag("../../x", "demo"), client_tag("demo", "demo"), client_tag("a b", "demo")
        ('x', '', 'a_b')
    """
    if name in (None, "", experiment_name):
        return ""
    safe = re.sub(r"[^\w.=,+-]+", "_", re.sub(r"\.{2,}", "_", str(name)))
    return re.sub(r"_{2,}", "_", safe).strip("_")[:MAX_TAG_CHARS]


def refuse_eval(value: Any, where: str) -> None:
    """Refuses an ``{"eval": ...}`` value anywhere in ``value``: a remote client must
    never have code run on the driver (a program's own spec may use them).

    Example:
        >>> refuse_eval({"lr": {"eval": "random.random()"}}, "config")
        Traceback (most recent call last):
        ...
        ValueError: eval expressions are refused from a client (config['lr']): the server runs no code a client sends; send the value itself, or a search space (grid_search, uniform, ...).
    """
    if is_eval_dict(value):
        raise ValueError(f"eval expressions are refused from a client ({where}): the server "
                         f"runs no code a client sends; send the value itself, or a search "
                         f"space (grid_search, uniform, ...).")
    if isinstance(value, Mapping):
        for key, item in value.items():
            refuse_eval(item, f"{where}[{key!r}]")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            refuse_eval(item, f"{where}[{i}]")


def expand_client_spec(experiment: Experiment, name: Optional[str],
                       spec: Mapping[str, Any], limit: Optional[int] = None
                       ) -> list[ClientTrial]:
    """The trials ``spec`` describes, for the running ``experiment``.

    Args:
        experiment: The running experiment.
        name: The name the client gave; another name than the experiment's prefixes the
            trials' tags.
        spec: ``run`` (optional: the experiment's trainable), ``stop``, ``config`` with
            ``grid_search`` / search domains, ``repeat`` or ``num_samples``…
        limit: Expand at most ``limit + 1`` trials (a client's cap: more than
            ``limit`` returned means over it, without expanding a huge grid whole).

    Raises:
        ValueError: A key that only a whole experiment can set, another trainable or
            other resources than the experiment's, an ``{"eval": ...}`` value, or any
            error an experiment's spec would get (naming the key).

    Example:
        >>> exp = Experiment("demo", run=lambda config, reporter: None, local_dir="/tmp/r")
        >>> [(t.config, t.tag) for t in expand_client_spec(exp, "demo", {
        ...     "config": {"lr": {"grid_search": [0.1, 0.2]}}, "repeat": 1})]
        [({'lr': 0.1}, 'lr=0.1'), ({'lr': 0.2}, 'lr=0.2')]
    """
    if not isinstance(spec, Mapping):
        raise ValueError(f"The trial spec must be a JSON object, got {type(spec).__name__}.")
    unknown = sorted(set(spec) - set(CLIENT_SPEC_KEYS))
    if unknown:
        raise ValueError(f"Unknown trial spec key(s) {unknown} (a client-added trial can set "
                         f"{', '.join(CLIENT_SPEC_KEYS)}).")
    if not isinstance(spec.get("config", {}), Mapping):
        raise ValueError(f"spec['config'] must be a JSON object, got "
                         f"{type(spec['config']).__name__}.")
    refuse_eval(spec.get("config", {}), "config")
    spec = with_env_in_config(spec)
    run = spec.get("run", experiment.trainable_name)
    if run != experiment.trainable_name:
        raise ValueError(f"spec['run'] is {run!r}, but experiment {experiment.name!r} runs "
                         f"{experiment.trainable_name!r}; a client-added trial runs the "
                         f"experiment's trainable.")
    settings = {k: v for k, v in spec.items() if k != "run"}
    checked = Experiment(name=experiment.name, run=experiment.trainable,
                         local_dir=experiment.local_dir, **settings)
    if checked.resources != experiment.resources:
        raise ValueError(f"The spec asks for {checked.resources} per trial, but experiment "
                         f"{experiment.name!r} runs its trials with {experiment.resources}.")
    per_trial = {"stopping_criterion": dict(checked.stop) if "stop" in spec else None,
                 "checkpoint_freq": spec.get("checkpoint_freq"),
                 "checkpoint_at_end": spec.get("checkpoint_at_end"),
                 "max_failures": spec.get("max_failures")}
    per_trial = {k: v for k, v in per_trial.items() if v is not None}
    prefix = client_tag(name, experiment.name)
    trials = []
    variants = generate_variants(checked.config, checked.num_samples, spec=dict(spec))
    for resolved, config in itertools.islice(variants, None if limit is None else limit + 1):
        tag = ",".join(p for p in (prefix, format_vars(resolved)) if p)
        trials.append(ClientTrial(config, tag, per_trial))
    return trials
