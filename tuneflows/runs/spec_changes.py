"""What a resumed experiment may not change: a record of the spec that shapes its trials
(saved with its state), and the differences between the saved record and a new one.

A resumed run continues the saved trials with their saved configs, stop criteria and
failure budgets, and the searcher continues from its saved state; a new grid, stop or
trainable would silently not apply (or mix two trainables' results in one trial), so
:func:`check_spec_unchanged` refuses it, listing each difference. Plain data only: no
engines, no files.

Example:
    >>> def train(config, reporter): ...
    >>> from tuneflows.spec import Experiment
    >>> old = spec_record(Experiment("e", train, stop={"acc": 0.9}, local_dir="/r"))
    >>> new = spec_record(Experiment("e", train, stop={"acc": 0.95}, local_dir="/r"))
    >>> spec_changes(old, new)
    ['stop: {"acc": 0.9} -> {"acc": 0.95}']
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Mapping, Optional, Sequence

from tuneflows.search import Domain, SampleFrom
from tuneflows.spec import Experiment

#: The settings compared on resume (``max_seconds_without_result`` is not: the new
#: value applies to the resumed rounds).
COMPARED_KEYS = ("run", "config", "stop", "num_samples", "resources_per_trial",
                 "checkpoint_freq", "checkpoint_at_end", "keep_checkpoints_num",
                 "checkpoint_score_attr", "max_failures", "restore")

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def callable_name(fn: Any) -> str:
    """``module.qualname`` of a function or class (stable across processes).

    Example:
        >>> callable_name(json.dumps)
        'json.dumps'
    """
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__name__)}"


def describe(value: Any) -> Any:
    """``value`` as stable plain data: dicts and lists kept, functions and search
    domains named (``sample_from(module.fn)``, ``Uniform(low=0.0, high=1.0, q=None)``), non-finite
    numbers and other objects as their text without memory addresses.

    Example:
        >>> from tuneflows.search import uniform
        >>> describe({"lr": uniform(0, 1), "f": callable_name, "n": (1, float("nan"))})
        ... # doctest: +NORMALIZE_WHITESPACE
        {'lr': 'Uniform(low=0.0, high=1.0, q=None)',
         'f': 'tuneflows.runs.spec_changes.callable_name', 'n': [1, 'nan']}
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, Mapping):
        return {str(k): describe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [describe(v) for v in value]
    if isinstance(value, SampleFrom):
        return f"sample_from({callable_name(value.fn)})"
    if isinstance(value, Domain):
        return _ADDRESS.sub("", repr(value))
    if callable(value):
        return callable_name(value)
    return _ADDRESS.sub("", repr(value))


def spec_record(experiment: Experiment) -> dict[str, Any]:
    """The settings of ``experiment`` that shape its trials, as JSON data (what the
    experiment's state saves, and what a resumed call is compared with)."""
    run = experiment.run if isinstance(experiment.run, str) else callable_name(experiment.run)
    record = {"run": run, **experiment.trial_settings()}
    return json.loads(json.dumps(describe(record)))


def _shown(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def spec_changes(saved: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The differences between two spec records, one line each (``key: old -> new``;
    a config is compared key by key, ``config.lr: ...``)."""
    changes: list[str] = []
    for key in COMPARED_KEYS:
        if key not in saved:  # a record from a tuneflows that did not save this key
            continue
        old, now = saved.get(key), new.get(key)
        if key == "config" and isinstance(old, Mapping) and isinstance(now, Mapping):
            for name in sorted(set(old) | set(now)):
                if old.get(name, _MISSING) != now.get(name, _MISSING):
                    changes.append(f"config.{name}: {_value(old, name)} -> {_value(now, name)}")
        elif old != now:
            changes.append(f"{key}: {_shown(old)} -> {_shown(now)}")
    return changes


_MISSING = object()


def _value(config: Mapping[str, Any], name: str) -> str:
    return _shown(config[name]) if name in config else "(absent)"


def check_spec_unchanged(saved: Optional[Mapping[str, Any]],
                         trainables: Sequence[str], experiment: Experiment) -> None:
    """Refuses to resume ``experiment`` with another spec than the saved one.

    Args:
        saved: The saved spec record (None or empty: state from a tuneflows that did not
            save one; then only the trainable is compared, by the trials' records).
        trainables: The ``trainable_name`` of each saved trial.
        experiment: The experiment as now given.

    Raises:
        ValueError: Listing every difference, and what to do instead.

    Example:
        >>> def train(config, reporter): ...
        >>> exp = Experiment("e", train, local_dir="/r")
        >>> check_spec_unchanged(None, ["other"], exp)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: Cannot resume experiment 'e' with a changed spec (...):
          - run: "other" -> "train"
        Resume with the spec it was started with, or start a fresh experiment (...).
    """
    if saved:
        changes = spec_changes(saved, spec_record(experiment))
    else:
        changes = [f"run: {_shown(name)} -> {_shown(experiment.trainable_name)}"
                   for name in sorted(set(trainables)) if name != experiment.trainable_name]
    if changes:
        listed = "\n".join(f"  - {change}" for change in changes)
        raise ValueError(
            f"Cannot resume experiment {experiment.name!r} with a changed spec (the saved "
            f"run's trials and state would not follow it):\n{listed}\nResume with the spec "
            f"it was started with, or start a fresh experiment (another name or local_dir).")
