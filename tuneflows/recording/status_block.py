"""The seed's ``== Status ==`` block, refreshed in a terminal and throttled elsewhere."""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Mapping, Optional, Sequence

from tuneflows.trial import Trial

_METRIC_ABBREVIATIONS = {
    "mean_accuracy": "acc",
    "episode_reward_mean": "rew",
    "mean_loss": "loss",
    "neg_mean_loss": "neg_loss",
}


def pick_metric(trials: Sequence[Trial], preferred: Optional[str]) -> Optional[str]:
    """The metric to show: the scheduler's, else a well-known one, else a stop key."""
    seen: set[str] = set()
    for trial in trials:
        seen.update((trial.last_result or {}).keys())
    if preferred and preferred in seen:
        return preferred
    for key in _METRIC_ABBREVIATIONS:
        if key in seen:
            return key
    for trial in trials:
        for key in trial.stopping_criterion:
            if key in seen and key not in ("training_iteration", "timesteps_total", "time_total_s"):
                return key
    return None


def _format_number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def trial_line(trial: Trial, metric: Optional[str]) -> str:
    """One trial's line: status, pid, time, timesteps, metric, failures, reason."""
    parts = [f" - {trial.name}:  {trial.status}"]
    result = trial.last_result or {}
    if trial.pid is not None:
        parts[0] += f" [pid={trial.pid}]"
    pieces: list[str] = []
    if "time_total_s" in result:
        pieces.append(f"{int(round(result['time_total_s']))} s")
    if result.get("timesteps_total") is not None:
        pieces.append(f"{result['timesteps_total']} ts")
    elif "training_iteration" in result:
        pieces.append(f"{result['training_iteration']} iter")
    if metric and metric in result:
        pieces.append(f"{_format_number(result[metric])} {_METRIC_ABBREVIATIONS.get(metric, metric)}")
    if trial.num_failures:
        pieces.append(f"{trial.num_failures} failures")
    line = parts[0] + (", " + ", ".join(pieces) if pieces else "")
    if trial.status == "ERROR" and trial.error_file:
        line += f" (error: {trial.error_msg}; see {trial.error_file})"
    elif trial.status_reason:
        line += f" ({trial.status_reason})"
    return line


def status_text(
    trials: Sequence[Trial],
    scheduler_line: str,
    used: Mapping[str, float],
    total: Mapping[str, float],
    logdir: str,
    metric: Optional[str] = None,
    max_lines: int = 40,
) -> str:
    """Renders the seed's status block."""
    home = os.path.expanduser("~")
    shown_dir = "~" + logdir[len(home):] if logdir.startswith(home + os.sep) else logdir
    metric = pick_metric(trials, metric)
    lines = [
        "== Status ==",
        scheduler_line,
        f"Resources used: {used.get('cpu', 0):g}/{total.get('cpu', 0):g} CPUs, "
        f"{used.get('gpu', 0):g}/{total.get('gpu', 0):g} GPUs",
        f"Result logdir: {shown_dir}",
    ]
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial.status] = counts.get(trial.status, 0) + 1
    if len(trials) > max_lines:
        lines.append("Number of trials: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
        shown = [t for t in trials if t.status in ("RUNNING", "PAUSED", "ERROR")][:max_lines]
    else:
        shown = list(trials)
    lines.extend(trial_line(t, metric) for t in shown)
    return "\n".join(lines)


class StatusDisplay:
    """Shows the status block: live in a terminal, every ``interval_s`` otherwise.

    Args:
        verbose: False disables all output.
        interval_s: Minimum seconds between prints when output is not a terminal.
    """

    def __init__(self, verbose: bool = True, interval_s: float = 30.0) -> None:
        self.verbose = verbose
        self.interval_s = interval_s
        self._is_tty = sys.stdout.isatty()
        self._last: Optional[float] = None
        self._live: Any = None

    def update(self, text: str, force: bool = False) -> None:
        """Shows ``text``: in a terminal at most 4×/s (at once when ``force``), else at
        most every ``interval_s`` so a log file is not flooded."""
        if not self.verbose:
            return
        now = time.monotonic()
        if self._is_tty:
            if self._live is None:
                from rich.live import Live
                from rich.text import Text

                self._live = Live(Text(text), auto_refresh=False, transient=False)
                self._live.start()
            if force or self._last is None or now - self._last >= 0.25:
                from rich.text import Text

                self._live.update(Text(text), refresh=True)
                self._last = now
        elif self._last is None or now - self._last >= self.interval_s:
            print(text, flush=True)
            self._last = now

    def close(self, text: str) -> None:
        """Shows the final block and ends live refreshing."""
        if not self.verbose:
            return
        if self._live is not None:
            from rich.text import Text

            self._live.update(Text(text), refresh=True)
            self._live.stop()
            self._live = None
        else:
            print(text, flush=True)
