"""What an experiment's MLflow records lack when it ends: the trials whose records a
writer dropped (MLflow down) or could not confirm (a writer that died or missed the
deadline), and whether the parent run's summary is among them. The experiment's files
hold everything; ``tuneflows sync-mlflow`` replays them.

Example:
    >>> gaps = MlflowGaps()
    >>> gaps.add_reply(True, {"trials": ["a1"], "parent": False}, ["a1", "b2"])
    >>> gaps.add_reply(False, "the MLflow writer process stopped", ["c3"], holds_parent=True)
    >>> print(gaps.describe({"a1": "t_a", "c3": "t_c"}, "/r/exp"))  # doctest: +NORMALIZE_WHITESPACE
    MLflow lacks records of 2 trial(s) (t_a, t_c) and of the parent run (the MLflow writer
    process stopped). Every result is in the trial files under /r/exp: replay them with
    `tuneflows sync-mlflow /r/exp`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

#: How many trial names a message lists before "and N more".
NAMES_SHOWN = 10


@dataclass
class MlflowGaps:
    """What MLflow lacks of one experiment.

    Attributes:
        trial_ids: Trials some of whose records are missing or unconfirmed.
        parent: Records of the parent run (its summary, its end) are missing.
        reasons: Why, beyond calls that failed (a writer that stopped or was too slow).
    """

    trial_ids: set[str] = field(default_factory=set)
    parent: bool = False
    reasons: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """MLflow holds every record."""
        return not (self.trial_ids or self.parent or self.reasons)

    def add_reply(self, ok: bool, value: Any, trials_of_writer: Iterable[str],
                  holds_parent: bool = False) -> None:
        """Takes in a writer's answer to the experiment's end.

        Args:
            ok: The writer answered.
            value: Its answer (``{"trials": [...], "parent": bool}`` of dropped
                records, or None), or why it did not answer.
            trials_of_writer: The trials the writer held: all unconfirmed if it did
                not answer.
            holds_parent: The writer held the parent run.
        """
        if not ok:
            self.trial_ids.update(trials_of_writer)
            self.parent = self.parent or holds_parent
            self.reasons.append(str(value))
        elif value:
            self.trial_ids.update(value.get("trials", ()))
            self.parent = self.parent or bool(value.get("parent"))

    def describe(self, names: Mapping[str, str], experiment_dir: str) -> str:
        """One warning: what is missing, why, and how to replay it."""
        shown = sorted(names.get(t, t) for t in self.trial_ids)
        listed = ", ".join(shown[:NAMES_SHOWN])
        if len(shown) > NAMES_SHOWN:
            listed += f" and {len(shown) - NAMES_SHOWN} more"
        parts = [f"{len(shown)} trial(s) ({listed})"] if shown else []
        if self.parent:
            parts.append("the parent run")
        what = " and of ".join(parts) or "some runs"
        why = "; ".join(self.reasons) or "MLflow calls failed"
        return (f"MLflow lacks records of {what} ({why}). Every result is in the trial "
                f"files under {experiment_dir}: replay them with "
                f"`tuneflows sync-mlflow {experiment_dir}`.")
