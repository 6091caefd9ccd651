"""HyperOptSearch's state as data: a record a settled trial, appended once, and the rest.

A trial is settled when its document no longer changes: completed, failed, or evaluated
elsewhere (``add_evaluated_trial``). Its record (:func:`settled_record`) goes into an
:class:`~tuneflows.model.append_only.AppendOnlyList`, which the state writer appends to a
log instead of writing every document again at each state write; the state proper holds
only the live trials' documents and bookkeeping. A trial completed again (a failed trial
run again on resume) gets a new record, and a trial's last record is the one that counts. A record refers to its document's
``misc`` and ``result``, which never change after (an early-stopped trial's ranked loss
is written into a new ``result`` of the document, not into the recorded one).

Example:
    >>> from tuneflows.search.early_stop_ranking import Observation
    >>> doc = {"tid": 0, "misc": {"tid": 0, "idxs": {"x": [0]}, "vals": {"x": [0.5]}},
    ...        "result": {"loss": 1.0}}
    >>> record = settled_record(doc, "t0", {"x": 0.5}, "x=0.5", Observation(1.0, False, 1.0))
    >>> SettledTrial.of(record).trial_id, SettledTrial.of(record).observation
    ('t0', Observation(loss=1.0, early_stopped=False, budget=1.0))
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, NamedTuple, Optional

from tuneflows.model.plain_json import plain_data
from tuneflows.search.early_stop_ranking import Observation

__all__ = ["SettledTrial", "best_settled", "current_layout", "latest", "restored",
           "settled_record", "trial_maps"]


class SettledTrial(NamedTuple):
    """A settled trial's record, read back (from memory or from JSON).

    Attributes:
        tid: hyperopt's trial id.
        trial_id: tuneflows' trial id (None: evaluated elsewhere).
        misc: The document's ``misc`` (its values).
        result: The document's ``result`` as the trial ended (status, loss).
        config: The config the trial was given (None: evaluated elsewhere).
        tag: The trial's experiment tag (None: evaluated elsewhere).
        observation: What TPE learnt from it (None: failed).
    """

    tid: int
    trial_id: Optional[str]
    misc: dict
    result: dict
    config: Optional[dict]
    tag: Optional[str]
    observation: Optional[Observation]

    @classmethod
    def of(cls, record: Any) -> "SettledTrial":
        """The record :func:`settled_record` made, or its JSON."""
        tid, trial_id, misc, result, config, tag, observation = record
        return cls(int(tid), trial_id, misc, result, config, tag,
                   None if observation is None else Observation(*observation))


def settled_record(doc: dict, trial_id: Optional[str], config: Optional[dict],
                   tag: Optional[str], observation: Optional[Observation]) -> list:
    """The record of a settled trial, as plain data that refers to ``doc``'s ``misc`` and
    ``result`` (made plain in place: numpy numbers in its values become Python's, which
    hyperopt reads the same) and to ``config`` (already plain)."""
    misc = doc["misc"]
    misc["idxs"], misc["vals"] = plain_data(misc["idxs"]), plain_data(misc["vals"])
    doc["result"] = plain_data(doc["result"])
    return [doc["tid"], trial_id, misc, doc["result"], config, tag, observation]


def best_settled(records: Iterable[Any]) -> Optional[SettledTrial]:
    """The settled trial of this search (not one evaluated elsewhere) that finished (not
    early-stopped) with the least loss, the first suggested on a tie; None if none did.

    Example:
        >>> docs = [{"tid": t, "misc": {"idxs": {}, "vals": {}}, "result": {}} for t in (0, 1)]
        >>> best_settled([settled_record(docs[0], "t0", {}, "", Observation(2.0, False, 1.0)),
        ...               settled_record(docs[1], "t1", {}, "", Observation(1.0, True, 1.0))]
        ...              ).trial_id  # t1 stopped early: not a finished result
        't0'
    """
    best = None
    for trial in latest(records):
        seen = trial.observation
        if trial.trial_id is None or seen is None or seen.early_stopped:
            continue
        if best is None or (seen.loss, trial.tid) < (best.observation.loss, best.tid):
            best = trial
    return best


def latest(records: Iterable[Any]) -> list[SettledTrial]:
    """Each trial's last record (a trial completed again has several), by first record.

    Example:
        >>> doc = {"tid": 0, "misc": {"idxs": {}, "vals": {}}, "result": {}}
        >>> [s.observation for s in latest([settled_record(doc, "t0", {}, "", None),
        ...                                 settled_record(doc, "t0", {}, "", (1.0, False, 1.0))])]
        [Observation(loss=1.0, early_stopped=False, budget=1.0)]
    """
    last: dict[int, SettledTrial] = {}
    for record in records:
        trial = SettledTrial.of(record)
        last[trial.tid] = trial
    return list(last.values())


def trial_maps(settled: Iterable[SettledTrial], state: Mapping[str, Any]
               ) -> tuple[dict[str, int], dict[str, Any], dict[str, str]]:
    """hyperopt's trial id, config and tag by trial id, of the ``settled`` trials and of
    the live ones in ``state``."""
    ours = [s for s in settled if s.trial_id is not None]
    tids = {s.trial_id: s.tid for s in ours}
    tids.update((trial_id, int(tid)) for trial_id, tid in state["live"].items())
    return (tids, {**{s.trial_id: s.config for s in ours}, **state["configs"]},
            {**{s.trial_id: s.tag for s in ours}, **state["tags"]})


def restored(state: Mapping[str, Any]) -> tuple[Mapping[str, Any], list[SettledTrial]]:
    """``state`` in this tuneflows' layout (:func:`current_layout`) and its settled trials'
    last records (:func:`latest`)."""
    state = current_layout(state)
    return state, latest(state["settled"])


def current_layout(state: Mapping[str, Any]) -> Mapping[str, Any]:
    """``state`` as this tuneflows writes it; a state of a tuneflows before settled records
    (every document in ``docs``) is converted.

    Example:
        >>> old = {"docs": [{"tid": 0, "misc": {}, "result": {}}, {"tid": 1}], "ids": [0, 1],
        ...        "tid": {"a": 0, "b": 1},
        ...        "live": ["b"], "configs": {"a": {}, "b": {}}, "tags": {"a": "", "b": ""},
        ...        "obs": {"0": [1.0, False, 1.0]}, "last": {}, "points_done": 0}
        >>> new = current_layout(old)
        >>> [r[:2] for r in new["settled"]], new["live_docs"], new["live"]
        ([[0, 'a']], [{'tid': 1}], {'b': 1})
    """
    if "settled" in state:
        return state
    trial_ids = {tid: trial_id for trial_id, tid in state["tid"].items()}
    live = {trial_id: state["tid"][trial_id] for trial_id in state["live"]}
    observations = {int(tid): obs for tid, obs in state["obs"].items()}
    settled, live_docs = [], []
    for doc in state["docs"]:
        trial_id = trial_ids.get(doc["tid"])
        if trial_id in live:
            live_docs.append(doc)
        else:
            settled.append([doc["tid"], trial_id, doc["misc"], doc["result"],
                            state["configs"].get(trial_id),
                            state["tags"].get(trial_id), observations.get(doc["tid"])])
    rest = {k: v for k, v in state.items() if k not in ("docs", "ids", "tid", "obs")}
    return {**rest, "settled": settled, "live_docs": live_docs, "allocated": len(state["ids"]),
            "live": live,
            "configs": {t: state["configs"][t] for t in live},
            "tags": {t: state["tags"][t] for t in live}}
