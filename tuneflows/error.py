"""Errors raised by tuneflows."""


class TuneError(Exception):
    """A tuning experiment could not run, or some of its trials failed."""
