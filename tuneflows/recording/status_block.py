"""The seed's ``== Status ==`` block, refreshed in a terminal and throttled elsewhere,
and the seed's ``Result for <trial>:`` lines.

How much shows is a level (``run_experiments(verbose=...)``): :data:`QUIET` (``0``)
prints nothing, :data:`TABLE` (``1``, and the seed's ``verbose=False``) the status block,
:data:`RESULTS` (``2``, and the seed's default ``verbose=True``) the block and each
round's latest result of every trial.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Mapping, Optional, Sequence, Union

from tuneflows.model.best_trial import BUDGET_KEYS, best_trial, metric_value, ranked_trials
from tuneflows.trial import ERROR, PAUSED, PENDING, RUNNING, TERMINATED, Trial

QUIET, TABLE, RESULTS = 0, 1, 2

#: Least seconds between two forced refreshes in a terminal (a trial's end shows at
#: once unless trials end faster than this: rendering walks every trial).
FORCED_GAP_S = 0.1

#: Least trial lines of a block that cannot list every trial: when fewer trials run,
#: wait, failed or are among the best three, the latest trials fill up to this many.
LEAST_TRIAL_LINES = 5

#: Statuses in the order the block counts them.
STATUS_ORDER = (RUNNING, PAUSED, PENDING, TERMINATED, ERROR)

_METRIC_ABBREVIATIONS = {
    "mean_accuracy": "acc",
    "episode_reward_mean": "rew",
    "mean_loss": "loss",
    "neg_mean_loss": "neg_loss",
}


def verbosity_level(verbose: Union[bool, int]) -> int:
    """The display level of ``run_experiments``' ``verbose``: ``True`` → RESULTS,
    ``False`` → TABLE (as in the seed, where the table always printed), an int 0-2 as is.

    Example:
        >>> verbosity_level(True), verbosity_level(False), verbosity_level(0)
        (2, 1, 0)

    Raises:
        ValueError: Anything else.
    """
    if verbose is True:
        return RESULTS
    if verbose is False:
        return TABLE
    if isinstance(verbose, int) and QUIET <= verbose <= RESULTS:
        return int(verbose)
    raise ValueError(f"verbose must be True, False or a level 0 (quiet), 1 (status table) "
                     f"or 2 (table and results), got {verbose!r}.")


def column_metric(trials: Sequence[Trial], preferred: Optional[str]) -> Optional[str]:
    """The reported key each trial line shows (a display choice, not what the experiment
    is judged by): the experiment's metric, else a well-known one, else a stop key."""
    if preferred and any(preferred in (t.last_result or ()) for t in trials):
        return preferred  # found without collecting every trial's keys
    seen: set[str] = set()
    for trial in trials:
        seen.update((trial.last_result or {}).keys())
    for key in _METRIC_ABBREVIATIONS:
        if key in seen:
            return key
    for trial in trials:
        for key in trial.stopping_criterion:
            if key in seen and key not in BUDGET_KEYS:
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
        pieces.append(f"{trial.num_failures} failure{'s' if trial.num_failures > 1 else ''}")
    line = parts[0] + (", " + ", ".join(pieces) if pieces else "")
    if trial.status == ERROR and trial.error_file:
        line += f" (error: {trial.error_msg}; see {trial.error_file})"
    elif trial.status_reason:
        line += f" ({trial.status_reason})"
    return line


def status_counts(trials: Sequence[Trial]) -> str:
    """``"1 RUNNING, 3 PENDING, 2 TERMINATED"`` (statuses in STATUS_ORDER).

    Example:
        >>> from tuneflows.trial import Trial
        >>> status_counts([Trial("a", "0", {}, "f", "", status=s) for s in ("ERROR", "RUNNING")])
        '1 RUNNING, 1 ERROR'
    """
    counts = {status: 0 for status in STATUS_ORDER}
    for trial in trials:
        counts[trial.status] = counts.get(trial.status, 0) + 1
    return ", ".join(f"{n} {status}" for status, n in counts.items() if n)


def format_elapsed(seconds: float) -> str:
    """``h:mm:ss``.

    Example:
        >>> format_elapsed(3725.4)
        '1:02:05'
    """
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def best_line(trials: Sequence[Trial], metric: Optional[str], mode: str) -> str:
    """``"Best trial: <name> with acc=0.93 (max)"``, or why there is none yet."""
    if metric is None:
        return "Best trial: - (no metric: pass run_experiments(metric=..., mode=...))"
    best = best_trial(trials, metric, mode)
    if best is None:
        return f"Best trial: - (none reported {metric} yet)"
    return (f"Best trial: {best.name} with {metric}="
            f"{_format_number(metric_value(best, metric))} ({mode}) at iteration {best.iteration}")


def status_text(
    trials: Sequence[Trial],
    scheduler_line: str,
    used: Mapping[str, float],
    total: Mapping[str, float],
    logdir: str,
    metric: Optional[str] = None,
    max_lines: int = 40,
    *,
    mode: str = "max",
    elapsed_s: Optional[float] = None,
) -> str:
    """Renders the seed's status block, with the trial counts, the elapsed time and the
    current best trial (by ``metric`` and ``mode``: :mod:`tuneflows.model.best_trial`).

    Up to ``max_lines`` trials get a line each; beyond that the running, paused and
    errored trials and the best three do (at least :data:`LEAST_TRIAL_LINES`, the latest
    trials filling up), and one line counts the rest.
    """
    home = os.path.expanduser("~")
    shown_dir = "~" + logdir[len(home):] if logdir.startswith(home + os.sep) else logdir
    counts = f"Number of trials: {len(trials)}" + (f" ({status_counts(trials)})" if trials else "")
    if elapsed_s is not None:
        counts += f" | elapsed {format_elapsed(elapsed_s)}"
    lines = [
        "== Status ==",
        scheduler_line,
        f"Resources used: {used.get('cpu', 0):g}/{total.get('cpu', 0):g} CPUs, "
        f"{used.get('gpu', 0):g}/{total.get('gpu', 0):g} GPUs",
        f"Result logdir: {shown_dir}",
        counts,
        best_line(trials, metric, mode),
    ]
    shown = most_relevant(trials, metric, mode, max_lines)
    column = column_metric(trials, metric)
    lines.extend(trial_line(t, column) for t in shown)
    if len(shown) < len(trials):
        ids = {t.trial_id for t in shown}
        rest = [t for t in trials if t.trial_id not in ids]
        lines.append(f" ... {len(rest)} more: {status_counts(rest)}")
    return "\n".join(lines)


def most_relevant(trials: Sequence[Trial], metric: Optional[str], mode: str,
                  max_lines: int) -> list[Trial]:
    """All trials when they fit in ``max_lines``, else (in trial order, at most
    ``max_lines``) the running, paused and errored ones and the best three, and the
    latest trials when these are fewer than :data:`LEAST_TRIAL_LINES` (thousands of
    ended trials without a metric still show the last few).

    Example:
        >>> from tuneflows.trial import Trial
        >>> ended = [Trial(str(i), "0", {}, "f", "", status="TERMINATED") for i in range(99)]
        >>> [t.trial_id for t in most_relevant(ended, None, "max", max_lines=40)]
        ['94', '95', '96', '97', '98']
    """
    if len(trials) <= max_lines:
        return list(trials)
    best = {id(t) for t in ranked_trials(trials, metric, mode)[:3]
            if metric_value(t, metric) is not None}
    wanted = {id(t) for t in trials if t.status in (RUNNING, PAUSED, ERROR) or id(t) in best}
    for trial in reversed(trials):
        if len(wanted) >= min(LEAST_TRIAL_LINES, max_lines):
            break
        wanted.add(id(trial))
    return [t for t in trials if id(t) in wanted][:max_lines]


def result_text(name: str, result: Mapping[str, Any]) -> str:
    """The seed's ``Result for <trial>:`` block: one ``key: value`` line per result key
    (sorted; the config left out)."""
    lines = [f"Result for {name}:"]
    for key in sorted(k for k in result if k != "config"):
        value = result[key]
        shown = _format_number(value) if isinstance(value, (int, float)) else (
            value if isinstance(value, str) else json.dumps(value, default=repr))
        lines.append(f"  {key}: {shown}")
    return "\n".join(lines)


class StatusDisplay:
    """Shows the status block: live in a terminal, every ``interval_s`` otherwise.

    Args:
        verbose: A level (QUIET, TABLE, RESULTS) or the seed's bool
            (:func:`verbosity_level`).
        interval_s: Minimum seconds between prints when output is not a terminal.
    """

    def __init__(self, verbose: Union[bool, int] = True, interval_s: float = 30.0) -> None:
        self.level = verbosity_level(verbose)
        self.interval_s = interval_s
        self._is_tty = sys.stdout.isatty()
        self._last: Optional[float] = None
        self._live: Any = None

    @property
    def verbose(self) -> bool:
        """Whether anything shows (the level is above QUIET)."""
        return self.level > QUIET

    def due(self, force: bool = False) -> bool:
        """Whether :meth:`update` would show a block now: at most 4×/s in a terminal
        (at once when ``force`` and the last refresh is :data:`FORCED_GAP_S` old), else
        every ``interval_s``. A caller builds the block only when it is due, so its cost
        (a walk over every trial) is paid on a clock, never per trial event.

        Example:
            >>> StatusDisplay(verbose=0).due(), StatusDisplay(verbose=1).due()
            (False, True)
        """
        if not self.verbose:
            return False
        if self._last is None:
            return True
        since = time.monotonic() - self._last
        if self._is_tty:
            return since >= (FORCED_GAP_S if force else 0.25)
        return since >= self.interval_s

    def update(self, text: str, force: bool = False) -> None:
        """Shows ``text`` when :meth:`due`: in a terminal at most 4×/s (forced: at most
        every :data:`FORCED_GAP_S`), else at most every ``interval_s`` so a log file is
        not flooded."""
        if not self.due(force):
            return
        if self._is_tty:
            from rich.text import Text

            if self._live is None:
                from rich.live import Live

                self._live = Live(Text(text), auto_refresh=False, transient=False)
                self._live.start()
            self._live.update(Text(text), refresh=True)
        else:
            print(text, flush=True)
        self._last = time.monotonic()

    def show_result(self, name: str, result: Mapping[str, Any]) -> None:
        """At level RESULTS, prints the ``Result for <name>:`` block (above the live
        status block in a terminal)."""
        if self.level >= RESULTS:
            print(result_text(name, result), flush=True)

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

    def show_lines(self, lines: Sequence[str]) -> None:
        """Prints ``lines`` (e.g. where to look, after the final block) unless QUIET."""
        if self.verbose and lines:
            print("\n".join(lines), flush=True)
