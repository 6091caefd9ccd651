"""The class interface of a trainable: one ``train()`` call is one iteration."""

from __future__ import annotations

import inspect
import io
import os
import pickle
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Union

from tuneflows import result as R
from tuneflows.trial import trial_dir_name


@dataclass(frozen=True)
class TrialIdentity:
    """Identity of the trial a trainable runs for (set by the trial actor).

    Attributes:
        experiment_id: The experiment's id.
        trial_id: The trial's id.
        trial_name: The trial's display name.
        logdir: The trial's directory: its trainable runs with it as working directory
            (empty: a trainable made outside a trial keeps the process's).
        origin_dir: The driver's working directory (``TUNE_ORIG_WORKING_DIR``).
    """

    experiment_id: str = ""
    trial_id: str = "default"
    trial_name: str = "default"
    logdir: str = ""
    origin_dir: str = ""


class Trainable:
    """Abstract class for trainable models, functions, etc.

    A call to :meth:`train` executes one logical iteration of training and returns a
    result completed with ``training_iteration``, ``time_total_s`` and the other
    automatic keys. Subclasses implement ``_setup``, ``_train``, ``_save``,
    ``_restore`` and ``_stop``; ``_save`` / ``_restore`` make the trial checkpointable,
    which pausing (HyperBand), cloning (PBT) and fault tolerance rely on.

    Example:
        >>> class Counter(Trainable):
        ...     def _setup(self):
        ...         self.n = 0
        ...     def _train(self):
        ...         self.n += 1
        ...         return {"mean_accuracy": self.n / 10}
        ...     def _save(self, checkpoint_dir):
        ...         return {"n": self.n}
        ...     def _restore(self, state):
        ...         self.n = state["n"]
        >>> Counter(config={}).train()["training_iteration"]
        1

    Args:
        config: The hyperparameter configuration of this trial (``self.config``).
        logger_creator: Accepted for the seed's signature; tuneflows records results in
            the driver, so it is unused.
        trial_info: The trial's identity; set by tuneflows' trial actor.
    """

    def __init__(
        self,
        config: Optional[Mapping[str, Any]] = None,
        logger_creator: Optional[Callable[..., Any]] = None,
        trial_info: Optional[TrialIdentity] = None,
    ) -> None:
        self.config: dict[str, Any] = dict(config or {})
        self._info = trial_info or TrialIdentity()
        self._logdir = tempfile.mkdtemp(prefix=f"{trial_dir_name(self._info.trial_name[:40], '')}_")
        self._iteration = 0
        self._time_total = 0.0
        self._timesteps_total: Optional[int] = None
        self._call_setup()

    def _call_setup(self) -> None:
        params = inspect.signature(self._setup).parameters
        if params:
            self._setup(self.config)  # type: ignore[call-arg]
        else:
            self._setup()

    @property
    def iteration(self) -> int:
        """Number of completed ``train()`` calls (restored from checkpoints)."""
        return self._iteration

    @property
    def logdir(self) -> str:
        """Directory in which training outputs should be placed: the trial's directory
        (also the working directory while the trial runs), or a scratch directory on the
        worker for a trainable made outside a trial."""
        return self._info.logdir or self._logdir

    @property
    def trial_id(self) -> str:
        """Id of the trial this trainable runs for."""
        return self._info.trial_id

    def train(self) -> dict[str, Any]:
        """Runs one iteration of ``_train`` and returns its completed result."""
        start = time.time()
        return self.complete(self._train(), start)

    def train_round(self, accept: Callable[[dict[str, Any]], bool]) -> None:
        """Runs iterations while ``accept(result)`` returns True.

        Function trainables override this to run the whole round in their own thread.

        Raises:
            Exception: What ``_train`` raised.
        """
        while accept(self.train()):
            pass

    def complete(self, metrics: Optional[Mapping[str, Any]], start: float) -> dict[str, Any]:
        """Completes one iteration's ``metrics`` (begun at ``start``, a ``time.time()``)
        into a result: counts the iteration and adds the automatic keys. ``metrics`` is a
        dict or the seed's :class:`~tuneflows.result.TrainingResult`."""
        metrics = R.as_metrics(metrics)
        if metrics is None:
            metrics = {}
        if not isinstance(metrics, Mapping):
            raise TypeError(
                f"{type(self).__name__}._train() must return a dict of metrics or a "
                f"TrainingResult, got {type(metrics).__name__}."
            )
        metrics = dict(metrics)
        elapsed = float(metrics.pop(R.TIME_THIS_ITER_S, time.time() - start))
        self._iteration += 1
        self._time_total += elapsed
        if R.TIMESTEPS_THIS_ITER in metrics and metrics[R.TIMESTEPS_THIS_ITER] is not None:
            self._timesteps_total = (self._timesteps_total or 0) + metrics[R.TIMESTEPS_THIS_ITER]
        if R.TIMESTEPS_TOTAL in metrics and metrics[R.TIMESTEPS_TOTAL] is not None:
            self._timesteps_total = metrics[R.TIMESTEPS_TOTAL]
        metrics.pop(R.TIMESTEPS_TOTAL, None)
        return R.complete_result(
            metrics,
            iteration=self._iteration,
            time_this_iter=elapsed,
            time_total=self._time_total,
            timesteps_total=self._timesteps_total,
            experiment_id=self._info.experiment_id,
            trial_id=self._info.trial_id,
            config=self.config,
        )

    def save(self, checkpoint_dir: Optional[str] = None) -> str:
        """Saves the trainable's state under ``checkpoint_dir`` and returns its path.

        ``_save`` may return a path inside ``checkpoint_dir`` or a dict of state.
        """
        checkpoint_dir = checkpoint_dir or os.path.join(
            self._logdir, f"checkpoint_{self._iteration:06d}"
        )
        os.makedirs(checkpoint_dir, exist_ok=True)
        saved = self._save(checkpoint_dir)
        if isinstance(saved, dict):
            path = os.path.join(checkpoint_dir, ".tune_state.pkl")
            with open(path, "wb") as f:
                pickle.dump(saved, f)
            saved_rel = ".tune_state.pkl"
        elif isinstance(saved, str):
            saved_rel = os.path.relpath(saved, checkpoint_dir)
        else:
            raise TypeError(
                f"{type(self).__name__}._save() must return a path or a dict, got "
                f"{type(saved).__name__}."
            )
        with open(os.path.join(checkpoint_dir, ".tune_metadata"), "wb") as f:
            pickle.dump(
                {
                    "saved": saved_rel,
                    "iteration": self._iteration,
                    "time_total": self._time_total,
                    "timesteps_total": self._timesteps_total,
                },
                f,
            )
        return checkpoint_dir

    def restore(self, checkpoint_path: str) -> None:
        """Restores state saved by :meth:`save` (a checkpoint directory)."""
        meta_path = os.path.join(checkpoint_path, ".tune_metadata")
        if not os.path.exists(meta_path):
            raise FileNotFoundError(
                f"{checkpoint_path!r} is not a tuneflows checkpoint: it has no .tune_metadata."
            )
        with open(meta_path, "rb") as f:
            meta = pickle.load(f)
        saved = os.path.join(checkpoint_path, meta["saved"])
        if meta["saved"] == ".tune_state.pkl":
            with open(saved, "rb") as f:
                self._restore(pickle.load(f))
        else:
            self._restore(saved)
        self._iteration = meta["iteration"]
        self._time_total = meta["time_total"]
        self._timesteps_total = meta["timesteps_total"]

    def has_new_checkpoint(self) -> bool:
        """Whether the trainable made a checkpoint itself that the driver has not taken
        (a function reporting one; a class is asked for its checkpoints)."""
        return False

    @property
    def checkpoint_iteration(self) -> int:
        """The iteration of the checkpoint :meth:`save_to_object` returns."""
        return self._iteration

    def save_to_object(self) -> bytes:
        """Saves a checkpoint and returns it as bytes (a tar archive)."""
        tmp = tempfile.mkdtemp(prefix="tune_ckpt_")
        try:
            self.save(tmp)
            return pack_directory(tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def restore_from_object(self, blob: bytes) -> None:
        """Restores from bytes produced by :meth:`save_to_object`."""
        tmp = tempfile.mkdtemp(prefix="tune_restore_")
        try:
            unpack_directory(blob, tmp)
            self.restore(tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def stop(self) -> None:
        """Releases resources (calls ``_stop``) and removes the worker-side logdir."""
        try:
            self._stop()
        finally:
            shutil.rmtree(self._logdir, ignore_errors=True)

    # Subclass hooks ---------------------------------------------------------------
    # The seed's names (``_setup``, ``_train``, ``_save``, ``_restore``, ``_stop``) and
    # Ray Tune 0.8.7+'s (``setup``, ``step``, ``save_checkpoint``, ``load_checkpoint``,
    # ``cleanup``): a subclass overrides either set; the seed's call the later ones.
    def _setup(self) -> None:
        """Subclasses override this for custom initialization (may take ``config``)."""
        self.setup(self.config)

    def _train(self) -> dict[str, Any]:
        """Subclasses override this to run one iteration and return its metrics."""
        if type(self).step is Trainable.step:
            raise NotImplementedError(f"{type(self).__name__} implements neither _train() "
                                      f"nor step().")
        return self.step()

    def _save(self, checkpoint_dir: str) -> Union[str, dict[str, Any]]:
        """Subclasses override this to save state; return a path or a dict."""
        if type(self).save_checkpoint is Trainable.save_checkpoint:
            raise NotImplementedError(f"{type(self).__name__} implements neither _save() nor "
                                      f"save_checkpoint(), so it cannot checkpoint.")
        saved = self.save_checkpoint(checkpoint_dir)
        return checkpoint_dir if saved is None else saved  # None: the directory holds it

    def _restore(self, checkpoint: Union[str, dict[str, Any]]) -> None:
        """Subclasses override this to restore what ``_save`` returned."""
        if type(self).load_checkpoint is Trainable.load_checkpoint:
            raise NotImplementedError(f"{type(self).__name__} implements neither _restore() "
                                      f"nor load_checkpoint(), so it cannot restore.")
        self.load_checkpoint(checkpoint)

    def _stop(self) -> None:
        """Subclasses override this for any cleanup on stop."""
        self.cleanup()

    def setup(self, config: dict[str, Any]) -> None:
        """Ray Tune 0.8.7+'s name of ``_setup``: custom initialization with the config."""

    def step(self) -> dict[str, Any]:
        """Ray Tune 0.8.7+'s name of ``_train``: one iteration, returning its metrics."""
        raise NotImplementedError

    def save_checkpoint(self, checkpoint_dir: str) -> Optional[Union[str, dict[str, Any]]]:
        """Ray Tune 0.8.7+'s name of ``_save``: return a path, a dict, or None when the
        state is in ``checkpoint_dir`` (then ``load_checkpoint`` gets that directory)."""
        raise NotImplementedError

    def load_checkpoint(self, checkpoint: Union[str, dict[str, Any]]) -> None:
        """Ray Tune 0.8.7+'s name of ``_restore``."""
        raise NotImplementedError

    def cleanup(self) -> None:
        """Ray Tune 0.8.7+'s name of ``_stop``."""

    @classmethod
    def default_resource_request(cls, config: Mapping[str, Any]) -> Any:
        """Resources each trial of this trainable holds when the spec gives none: a
        :class:`~tuneflows.trial.Resources`, or None for one CPU. Called once per
        experiment, with its config (tuneflows runs an experiment's trials with one
        resource shape).

        Example:
            >>> from tuneflows.trial import Resources
            >>> class Big(Trainable):
            ...     @classmethod
            ...     def default_resource_request(cls, config):
            ...         return Resources(cpu=config["workers"], gpu=0)
            >>> Big.default_resource_request({"workers": 4}).cpu_total()
            4
        """
        return None

    @classmethod
    def resource_help(cls, config: Mapping[str, Any]) -> str:
        """A hint for configuring this trainable's resources, added to the error when a
        trial asks for more than the cluster has."""
        return ""

    @classmethod
    def can_checkpoint(cls) -> bool:
        """Whether the class implements ``_save`` and ``_restore`` (or Ray Tune 0.8.7+'s
        ``save_checkpoint`` and ``load_checkpoint``)."""
        saves = (cls._save is not Trainable._save
                 or cls.save_checkpoint is not Trainable.save_checkpoint)
        restores = (cls._restore is not Trainable._restore
                    or cls.load_checkpoint is not Trainable.load_checkpoint)
        return saves and restores


def pack_directory(path: str) -> bytes:
    """Tars a directory into bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(path, arcname=".")
    return buf.getvalue()


def unpack_directory(blob: bytes, path: str) -> None:
    """Extracts bytes from :func:`pack_directory` into ``path``."""
    try:
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r") as tar:
            tar.extractall(path, filter="data")
    except tarfile.TarError as exc:
        raise ValueError(f"Corrupt checkpoint archive: {exc}") from exc
