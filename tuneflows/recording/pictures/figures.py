"""The pictures of a run, as plotly figures: the optimization history, the learning
curves of every trial with each decision marked, the parameter importances, and the
metric against each parameter (log axes for log-uniform parameters).

Plotly draws them (interactive HTML, which MLflow's artifact view shows); the numbers
behind them are :mod:`~tuneflows.recording.pictures.importances`' and
:mod:`~tuneflows.recording.pictures.histories`'.

Example:
    >>> from tuneflows.recording.pictures.histories import Decision, TrialHistory
    >>> trials = [TrialHistory("a", "1_lr=0.1", {"lr": 0.1}, "TERMINATED", [(1, 0.5), (2, 0.7)],
    ...                        [Decision("stop", 2, "rung 2")], ended_at=2.0),
    ...           TrialHistory("b", "2_lr=0.01", {"lr": 0.01}, "TERMINATED", [(1, 0.6)],
    ...                        ended_at=1.0)]
    >>> fig = optimization_history(trials, "acc", "max")
    >>> [round(v, 2) for v in fig.data[1].y]  # best so far, in the order trials ended
    [0.6, 0.7]
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Optional, Sequence

from tuneflows.recording.pictures.histories import TrialHistory
from tuneflows.recording.pictures.importances import category
from tuneflows.recording.trial_files import flatten

if TYPE_CHECKING:
    import plotly.graph_objects as go

#: How each decision is marked on the learning curves: (label, marker symbol, colour).
DECISION_MARKS = {
    "stop": ("stopped early", "x", "#d62728"),
    "pause": ("paused", "circle-open", "#ff7f0e"),
    "perturb": ("perturbed", "diamond", "#9467bd"),
    "restart": ("restarted", "triangle-up", "#111111"),
}
#: At most this many parameters get a panel of the metric-against-parameter picture.
MAX_SLICE_PANELS = 12
_LAYOUT = {"template": "plotly_white", "hovermode": "closest",
           "margin": {"l": 60, "r": 20, "t": 60, "b": 50}}


def ended_in_order(trials: Sequence[TrialHistory]) -> list[TrialHistory]:
    """The trials that ended with a metric value, in the order they ended."""
    ended = [t for t in trials if t.ended_at is not None and t.final is not None]
    return sorted(ended, key=lambda t: t.ended_at or 0.0)


def optimization_history(trials: Sequence[TrialHistory], metric: str, mode: str) -> "go.Figure":
    """Each ended trial's final ``metric`` in the order trials ended, and the best so far."""
    import plotly.graph_objects as go

    ended = ended_in_order(trials)
    finals = [t.final for t in ended]
    best, pick = [], max if mode == "max" else min
    for value in finals:
        best.append(value if not best else pick(best[-1], value))
    order = list(range(1, len(ended) + 1))
    fig = go.Figure([
        go.Scatter(x=order, y=finals, mode="markers", name=f"trial's final {metric}",
                   text=[_hover(t) for t in ended], hoverinfo="text+y",
                   marker={"color": "#1f77b4", "size": 7, "opacity": 0.8}),
        go.Scatter(x=order, y=best, mode="lines", name="best so far",
                   line={"color": "#d62728", "width": 2, "shape": "hv"}),
    ])
    fig.update_layout(title=f"Optimization history: {metric} ({mode}) of {len(ended)} "
                            f"ended trials", xaxis_title="trials, in the order they ended",
                      yaxis_title=metric, **_LAYOUT)
    return fig


def learning_curves(trials: Sequence[TrialHistory], metric: str) -> "go.Figure":
    """``metric`` against ``training_iteration`` for every trial, one chart, with each
    early stop, pause, perturbation and restart marked where it happened; the
    iterations where trials were stopped (ASHA's rungs) as dotted lines."""
    import plotly.graph_objects as go

    xs: list[Optional[int]] = []
    ys: list[Optional[float]] = []
    texts: list[str] = []
    for trial in trials:
        for iteration, value in trial.curve:
            xs.append(iteration)
            ys.append(value)
            texts.append(trial.name)
        xs.append(None)
        ys.append(None)
        texts.append("")
    fig = go.Figure([go.Scattergl(x=xs, y=ys, mode="lines", name="trials", text=texts,
                                  hoverinfo="text+x+y", connectgaps=False,
                                  line={"width": 1, "color": "rgba(31,119,180,0.45)"})])
    stops: set[int] = set()
    for kind, (label, symbol, colour) in DECISION_MARKS.items():
        points = [(d.iteration, _value_at(t, d.iteration), f"{t.name}: {d.reason}")
                  for t in trials for d in t.decisions if d.kind == kind]
        points = [p for p in points if p[1] is not None]
        if kind == "stop":
            stops = {p[0] for p in points}
        if points:
            fig.add_trace(go.Scatter(
                x=[p[0] for p in points], y=[p[1] for p in points], mode="markers",
                name=f"{label} ({len(points)})", text=[p[2] for p in points],
                hoverinfo="text", marker={"symbol": symbol, "size": 9, "color": colour,
                                          "line": {"width": 1.5, "color": colour}}))
    if 0 < len(stops) <= 12:
        for iteration in sorted(stops):
            fig.add_vline(x=iteration, line_dash="dot", line_color="#999999",
                          annotation_text=f"stops at {iteration}", annotation_position="top")
    fig.update_layout(title=f"Learning curves: {metric} of {len(trials)} trials",
                      xaxis_title="training_iteration", yaxis_title=metric, **_LAYOUT)
    return fig


def importance_bars(importances: Mapping[str, float], metric: str) -> "go.Figure":
    """The parameter importances as bars, the most important on top."""
    import plotly.graph_objects as go

    names = list(importances)[::-1]
    shares = [importances[n] for n in names]
    fig = go.Figure(go.Bar(x=shares, y=names, orientation="h",
                           text=[f"{s:.3g}" for s in shares], textposition="auto",
                           marker={"color": "#2ca02c"}))
    fig.update_layout(title=f"Parameter importances for {metric} (fANOVA; they add up to 1)",
                      xaxis_title="importance", xaxis_range=[0, 1],
                      height=max(300, 60 + 40 * len(names)), **_LAYOUT)
    return fig


def metric_by_parameter(trials: Sequence[TrialHistory], metric: str,
                        parameters: Sequence[str], log_params: Iterable[str]) -> "go.Figure":
    """The final ``metric`` of every ended trial against each of ``parameters`` (one
    panel each), on a log axis for ``log_params``; colour is the order trials ended."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    ended = ended_in_order(trials)
    shown = list(parameters)[:MAX_SLICE_PANELS]
    logs = set(log_params)
    cols = min(3, max(1, len(shown)))
    rows = max(1, math.ceil(len(shown) / cols))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=shown or [metric],
                        shared_yaxes=True, horizontal_spacing=0.06,
                        vertical_spacing=0.5 / rows)
    configs = [flatten(t.config) for t in ended]
    for index, name in enumerate(shown):
        row, col = divmod(index, cols)
        pairs = [(c.get(name), t) for c, t in zip(configs, ended) if name in c]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v, _ in pairs)
        fig.add_trace(go.Scatter(
            x=[v if numeric else str(category(v)) for v, _ in pairs],
            y=[t.final for _, t in pairs], mode="markers", showlegend=False,
            text=[_hover(t) for _, t in pairs], hoverinfo="text+x+y",
            marker={"size": 7, "opacity": 0.8, "color": [ended.index(t) for _, t in pairs],
                    "colorscale": "Blues", "showscale": index == 0,
                    "colorbar": {"title": "end order"}}),
            row=row + 1, col=col + 1)
        if name in logs:
            fig.update_xaxes(type="log", title_text=f"{name} (log)", row=row + 1, col=col + 1)
        if col == 0:
            fig.update_yaxes(title_text=metric, row=row + 1, col=col + 1)
    fig.update_layout(title=f"{metric} against each parameter ({len(ended)} ended trials)",
                      height=max(380, 320 * rows),
                      **{**_LAYOUT, "margin": {**_LAYOUT["margin"], "t": 90}})  # room for titles
    return fig


def _value_at(trial: TrialHistory, iteration: int) -> Optional[float]:
    """The metric at ``iteration`` (else the last value before it)."""
    found = None
    for step, value in trial.curve:
        if step > iteration:
            break
        found = value
    return found


def _hover(trial: TrialHistory) -> str:
    config = ", ".join(f"{k}={_short(v)}" for k, v in flatten(trial.config).items())
    return f"{trial.name}<br>{config}"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return value if isinstance(value, str) else json.dumps(value, default=repr)[:60]
