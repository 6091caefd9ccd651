"""Errors raised by tuneflows."""

from __future__ import annotations

import contextlib
from typing import Iterator


class TuneError(Exception):
    """A tuning experiment could not run, or some of its trials failed."""


class SpecError(TuneError, ValueError):
    """A bad experiment spec, found before any trial starts.

    A :class:`TuneError`, as the seed raised for every bad spec, and a ``ValueError``, as
    tuneflows raised before, so code catching either keeps working.

    Example:
        >>> issubclass(SpecError, TuneError), issubclass(SpecError, ValueError)
        (True, True)
    """


@contextlib.contextmanager
def spec_errors() -> Iterator[None]:
    """Turns a ``ValueError`` raised inside the block into a :class:`SpecError` with the
    same message (one that is already a TuneError passes as it is).

    Example:
        >>> with spec_errors():
        ...     raise ValueError("experiment 'e': 'repeat' must be an integer >= 1, got 0.")
        Traceback (most recent call last):
        ...
        tuneflows.error.SpecError: experiment 'e': 'repeat' must be an integer >= 1, got 0.
    """
    try:
        yield
    except TuneError:
        raise
    except ValueError as exc:
        raise SpecError(*exc.args) from exc


def last_line(text: str) -> str:
    """The last non-empty line of a traceback (the exception), or "unknown error"."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "unknown error"


class ExperimentCancelled(TuneError):
    """The experiment's Prefect flow run was cancelled: its trials stopped, its state
    is saved and the message says how to resume it."""
