"""Errors raised by tuneflows."""


class TuneError(Exception):
    """A tuning experiment could not run, or some of its trials failed."""


def last_line(text: str) -> str:
    """The last non-empty line of a traceback (the exception), or "unknown error"."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "unknown error"
