"""hyperopt's trial documents for ask/tell: new ids, inserted documents, and their state.

:class:`HyperoptTrials` holds the ``hyperopt.Trials`` that TPE reads and works through its
public methods only (``new_trial_ids``, ``new_trial_docs``, ``insert_trial_docs``,
``refresh``, ``trials``). hyperopt's ``Trials.trials`` lists only documents in a valid state
(new, running, done), so the documents of failed trials are kept here by id as well: they
stay out of TPE's model and are still kept.

Example:
    >>> store = HyperoptTrials()
    >>> tid = store.new_tid()
    >>> store.insert([store.point_doc(tid, ["x"], {"x": 0.5})])
    >>> store.doc(tid)["misc"]["vals"], len(store.trials.trials)
    ({'x': [0.5]}, 1)
    >>> restored = HyperoptTrials.from_state([], [store.doc(tid)], store.allocated)
    >>> restored.new_tid()
    1
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from tuneflows.search.early_stop_ranking import Observation

__all__ = ["HyperoptTrials", "mark_done", "mark_failed"]


def mark_done(doc: dict, value: float, mode: str, budget: Any, early_stopped: bool) -> Observation:
    """Marks a trial document completed with metric ``value`` (its loss: negated for
    ``mode="max"``) at ``budget``; returns the observation TPE learns from it."""
    from hyperopt import JOB_STATE_DONE, STATUS_OK

    loss = -value if mode == "max" else value
    doc["result"] = {"status": STATUS_OK, "loss": loss, "metric_value": value,
                     "early_stopped": early_stopped, "budget": budget}
    doc["state"] = JOB_STATE_DONE
    return Observation(loss, early_stopped,
                       float(budget) if isinstance(budget, (int, float)) else 0.0)


def mark_failed(doc: dict, failure: str) -> None:
    """Marks a trial document failed: TPE leaves it out of its model."""
    from hyperopt import JOB_STATE_ERROR, STATUS_FAIL

    doc["result"] = {"status": STATUS_FAIL, "failure": failure}
    doc["state"] = JOB_STATE_ERROR


class HyperoptTrials:
    """A ``hyperopt.Trials`` for one searcher, with every document reachable by trial id."""

    def __init__(self) -> None:
        from hyperopt import Trials

        self.trials = Trials()  #: what ``tpe.suggest`` reads
        self._docs: dict[int, dict] = {}  # tid -> the document hyperopt holds
        self._allocated = 0  # tids handed out so far (hyperopt numbers them 0, 1, ...)

    def new_tid(self) -> int:
        """A new hyperopt trial id."""
        tid = self.trials.new_trial_ids(1)[0]
        self._allocated = tid + 1
        return tid

    def point_doc(self, tid: int, labels: Sequence[str], vals: Mapping[str, Any]) -> dict:
        """A new document for trial ``tid`` with the given raw values, as ``fmin`` makes for a
        point to evaluate (labels missing from ``vals`` are inactive)."""
        misc = {
            "tid": tid,
            "cmd": ("domain_attachment", "FMinIter_Domain"),
            "workdir": None,
            "idxs": {k: ([tid] if k in vals else []) for k in labels},
            "vals": {k: ([vals[k]] if k in vals else []) for k in labels},
        }
        return self.trials.new_trial_docs([tid], [None], [{"status": "new"}], [misc])[0]

    def insert(self, docs: Sequence[dict]) -> None:
        """Inserts new documents (checked by hyperopt) and refreshes the trials TPE reads."""
        tids = self.trials.insert_trial_docs(list(docs))
        self.trials.refresh()
        # hyperopt appends them, new (a state it keeps), so they end its list of trials
        inserted = self.trials.trials[-len(tids):] if tids else []
        if [d["tid"] for d in inserted] != tids:
            wanted = set(tids)
            inserted = [d for d in self.trials.trials if d["tid"] in wanted]
        self._docs.update((d["tid"], d) for d in inserted)

    def doc(self, tid: int) -> dict:
        """The document of trial ``tid``; changing it changes what TPE reads after
        :meth:`refresh`."""
        return self._docs[tid]

    def refresh(self) -> None:
        """Makes document state changes visible to TPE."""
        self.trials.refresh()

    @property
    def allocated(self) -> int:
        """How many trial ids were handed out."""
        return self._allocated

    @classmethod
    def from_state(cls, settled: Sequence[tuple[int, dict, dict]], live_docs: Sequence[dict],
                   allocated: int) -> "HyperoptTrials":
        """A store with ``allocated`` ids handed out, holding the settled trials' documents
        made again from their (tid, misc, result) and the live trials' documents (all
        used as given: copy them first if the caller keeps them)."""
        from hyperopt import JOB_STATE_DONE, JOB_STATE_ERROR, STATUS_OK

        store = cls()
        if allocated:
            store.trials.new_trial_ids(allocated)
        store._allocated = allocated
        docs = store.trials.new_trial_docs(
            [tid for tid, _, _ in settled], [None] * len(settled),
            [result for _, _, result in settled], [misc for _, misc, _ in settled])
        for doc in docs:
            ok = doc["result"].get("status") == STATUS_OK
            doc["state"] = JOB_STATE_DONE if ok else JOB_STATE_ERROR
        docs = sorted([*docs, *live_docs], key=lambda d: d["tid"])
        store.trials.insert_trial_docs(docs)
        store.trials.refresh()
        store._docs = {d["tid"]: d for d in docs}
        store._docs.update((d["tid"], d) for d in store.trials.trials)
        return store
