"""A run's pictures and importances, written to a directory: one interactive HTML page
per picture (plotly.js inlined, so a page opens offline and in MLflow's artifact view)
and ``importances.json``.

Which parameters get a log axis: those the search space samples log-uniformly
(``scales``, from :func:`search_space_scales`); a parameter the space does not describe
with a domain (a grid, ``sample_from``) gets one when its values are positive and span
at least two decades.

Example:
    >>> made = write_pictures(histories, "acc", "max", "/tmp/pictures")  # doctest: +SKIP
    >>> made.importances, made.files                                     # doctest: +SKIP
    ({'lr': 0.93, 'momentum': 0.07}, ['optimization_history.html', ...])
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Optional, Sequence

from tuneflows.recording.pictures import figures
from tuneflows.recording.pictures.histories import TrialHistory
from tuneflows.recording.pictures.importances import parameter_importances
from tuneflows.recording.trial_files import flatten
from tuneflows.search import LogUniform, QUniform, Uniform

IMPORTANCES_FILE = "importances.json"
#: The picture pages, in the order a reader wants them.
PAGES = ("optimization_history.html", "learning_curves.html", "parameter_importances.html",
         "metric_by_parameter.html")
LOG, LINEAR = "log", "linear"


@dataclass
class Pictures:
    """What :func:`write_pictures` made.

    Attributes:
        metric: The metric drawn.
        mode: ``"max"`` or ``"min"``.
        importances: ``{parameter: importance}``, most important first.
        log_params: The parameters drawn on log axes.
        files: The pages written (names in the directory).
        trials: How many trials were drawn; ``ended``: how many had ended.
        mlflow_run_id: The MLflow parent run they were logged to (None: not logged).
        mlflow_experiment_id: Its MLflow experiment.
    """

    metric: str
    mode: str
    importances: dict[str, float] = field(default_factory=dict)
    log_params: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    trials: int = 0
    ended: int = 0
    mlflow_run_id: Optional[str] = None
    mlflow_experiment_id: Optional[str] = None

    def to_json(self) -> str:
        """As ``importances.json`` holds it."""
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def read(cls, directory: str) -> Optional["Pictures"]:
        """The ``importances.json`` of ``directory``, or None when there is none."""
        try:
            with open(os.path.join(directory, IMPORTANCES_FILE)) as f:
                return cls(**json.load(f))
        except (OSError, ValueError, TypeError):
            return None


def search_space_scales(config: Mapping[str, Any]) -> dict[str, str]:
    """``{parameter: "log" | "linear"}`` for each parameter of a search space that is a
    numeric domain (flat names, ``model/lr``).

    Example:
        >>> import tuneflows
        >>> search_space_scales({"lr": tuneflows.loguniform(1e-4, 1e-1),
        ...                      "m": tuneflows.uniform(0, 1), "k": 3})
        {'lr': 'log', 'm': 'linear'}
    """
    scales = {}
    for name, value in flatten(config).items():
        if isinstance(value, LogUniform):  # QLogUniform too
            scales[name] = LOG
        elif isinstance(value, (Uniform, QUniform)):
            scales[name] = LINEAR
    return scales


def log_parameters(configs: Sequence[Mapping[str, Any]], scales: Mapping[str, str]) -> list[str]:
    """The parameters to draw on a log axis: ``scales``' log ones, and those it does not
    name whose values are positive numbers spanning two decades or more.

    Example:
        >>> configs = [{"lr": 1e-4, "n": 1}, {"lr": 1e-2, "n": 5}]
        >>> log_parameters(configs, {}), log_parameters(configs, {"lr": "linear"})
        (['lr'], [])
    """
    columns: dict[str, list[Any]] = {}
    for config in configs:
        for name, value in flatten(config).items():
            columns.setdefault(name, []).append(value)
    found = []
    for name, column in sorted(columns.items()):
        if name in scales:
            if scales[name] == LOG:
                found.append(name)
            continue
        numbers = [v for v in column if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if numbers and len(numbers) == len(column) and min(numbers) > 0 \
                and max(numbers) / min(numbers) >= 100:
            found.append(name)
    return found


def write_pictures(trials: Sequence[TrialHistory], metric: str, mode: str, directory: str,
                   scales: Optional[Mapping[str, str]] = None) -> Pictures:
    """Computes the importances and writes the picture pages and ``importances.json``
    into ``directory`` (each file replaced whole, so a reader never sees half a page).

    Args:
        trials: The run's trials.
        metric: The metric to draw.
        mode: ``"max"`` or ``"min"``.
        directory: Where the files go (created if missing).
        scales: The search space's scales (:func:`search_space_scales`).
    """
    logs = log_parameters([t.config for t in trials], scales or {})
    ended = figures.ended_in_order(trials)
    importances = parameter_importances([t.config for t in ended], [t.final for t in ended],
                                        log_params=logs)
    varying = list(importances) or sorted({k for t in ended for k in flatten(t.config)})
    pages = {
        PAGES[0]: figures.optimization_history(trials, metric, mode),
        PAGES[1]: figures.learning_curves(trials, metric),
        PAGES[2]: figures.importance_bars(importances, metric),
        PAGES[3]: figures.metric_by_parameter(trials, metric, varying, logs),
    }
    os.makedirs(directory, exist_ok=True)
    for name, fig in pages.items():
        _replace(os.path.join(directory, name),
                 fig.to_html(include_plotlyjs=True, full_html=True,
                             config={"displaylogo": False}))
    made = Pictures(metric, mode, importances, logs, list(pages), len(trials), len(ended))
    _replace(os.path.join(directory, IMPORTANCES_FILE), made.to_json())
    return made


def _replace(path: str, text: str) -> None:
    temporary = path + ".tmp"
    with open(temporary, "w") as f:
        f.write(text)
    os.replace(temporary, path)
