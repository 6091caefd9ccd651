"""Per-trial files: ``params.json``, ``result.json`` (a JSON object a line) and
``progress.csv``, written once per round."""

from __future__ import annotations

import csv
import json
import os
from typing import Any, Mapping, Sequence

from tuneflows.model.plain_json import plain_json


def strict_json(record: Mapping[str, Any]) -> str:
    """``record`` as one line of strict JSON: NaN and infinities are written as null.

    Example:
        >>> strict_json({"loss": float("nan"), "acc": 0.5})
        '{"acc": 0.5, "loss": null}'
    """
    try:
        return json.dumps(dict(record), sort_keys=True, default=plain_json, allow_nan=False)
    except ValueError:  # a non-finite number somewhere
        return json.dumps(plain_json(record), sort_keys=True, allow_nan=False)


def flatten(data: Mapping[str, Any], prefix: str = "", sep: str = "/") -> dict[str, Any]:
    """Flattens nested dicts: ``{"a": {"b": 1}}`` becomes ``{"a/b": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{sep}{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            flat.update(flatten(value, name, sep))
        else:
            flat[name] = value
    return flat


#: The file in a trial's directory that holds its failures' tracebacks.
ERROR_FILE = "error.txt"


def error_file(logdir: str) -> str:
    """Where a trial's failures are written: ``<logdir>/error.txt``."""
    return os.path.join(logdir, ERROR_FILE)


class TrialFiles:
    """Writes one trial's records in its logdir."""

    def __init__(self, logdir: str) -> None:
        self.logdir = logdir
        os.makedirs(logdir, exist_ok=True)
        self._csv_fields: list[str] = []
        progress = os.path.join(logdir, "progress.csv")
        if os.path.exists(progress):
            with open(progress, newline="") as f:
                self._csv_fields = next(csv.reader(f), [])

    def write_params(self, config: Mapping[str, Any]) -> None:
        """Writes ``params.json`` (the trial's config)."""
        with open(os.path.join(self.logdir, "params.json"), "w") as f:
            json.dump(dict(config), f, indent=2, sort_keys=True, default=plain_json)

    def append_results(self, results: Sequence[Mapping[str, Any]]) -> None:
        """Appends results to ``result.json`` and ``progress.csv`` (one write each)."""
        if not results:
            return
        lines = "".join(strict_json(r) + "\n" for r in results)
        with open(os.path.join(self.logdir, "result.json"), "a") as f:
            f.write(lines)
        rows = [flatten({k: v for k, v in r.items() if k != "config"}) for r in results]
        path = os.path.join(self.logdir, "progress.csv")
        write_header = not self._csv_fields
        if write_header:
            self._csv_fields = list(rows[0])
        with open(path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self._csv_fields, extrasaction="ignore")
            if write_header:
                writer.writeheader()
            writer.writerows(rows)

    def read_results(self) -> list[dict[str, Any]]:
        """The results recorded so far (complete lines of ``result.json``)."""
        path = os.path.join(self.logdir, "result.json")
        if not os.path.exists(path):
            return []
        rows = []
        with open(path) as f:
            for line in f:
                if line.endswith("\n"):
                    rows.append(json.loads(line))
        return rows

    def repair(self) -> list[dict[str, Any]]:
        """After a killed driver: drops a half-written last line of ``result.json``,
        rebuilds ``progress.csv`` from it, and returns the results."""
        rows = self.read_results()
        for name in ("result.json", "progress.csv"):
            path = os.path.join(self.logdir, name)
            if os.path.exists(path):
                os.remove(path)
        self._csv_fields = []
        self.append_results(rows)
        return rows

    def write_error(self, text: str) -> str:
        """Writes ``error.txt`` (appending, one block per failure) and returns its path."""
        path = error_file(self.logdir)
        with open(path, "a") as f:
            f.write(text.rstrip() + "\n")
        return path

    def append_event(self, event: Mapping[str, Any]) -> None:
        """Appends a scheduler decision or perturbation to ``events.json``."""
        with open(os.path.join(self.logdir, "events.json"), "a") as f:
            f.write(json.dumps(dict(event), sort_keys=True, default=plain_json) + "\n")


def count_results(experiment_dir: str) -> int:
    """How many results the trials under ``experiment_dir`` have recorded (lines of
    their ``result.json``); e.g. to watch an experiment's progress from outside."""
    total = 0
    for root, _, files in os.walk(experiment_dir):
        if "result.json" in files:
            with open(os.path.join(root, "result.json")) as f:
                total += sum(1 for _ in f)
    return total
