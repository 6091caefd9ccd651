"""Seed-era import path ``ray.tune.web_server``: the Client API's REST server and its
Python client, which live in :mod:`tuneflows.rest`.

Example:
    >>> from tuneflows.web_server import TuneClient, TuneServer
    >>> TuneClient.__module__
    'tuneflows.rest.client'
"""

from tuneflows.rest.client import TuneClient, TuneClientError
from tuneflows.rest.server import TuneServer

__all__ = ["TuneClient", "TuneClientError", "TuneServer"]
