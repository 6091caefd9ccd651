"""Providing a run's Prefect API while Ray starts.

Which API a run uses:

- ``PREFECT_API_URL`` set (environment, Prefect profile, or a settings context such as
  ``prefect_test_harness``'s): that server; nothing is started.
- else, with ``TUNEFLOWS_PREFECT_SERVER=local`` (the default): the local Prefect server
  with its UI of ``PREFECT_HOME`` (:mod:`tuneflows.services.local_prefect_server`), started on
  first use and reused by later runs; this process's ``PREFECT_API_URL`` then points at
  it, and the run prints the UI's URL. If it cannot start, the run warns and uses the
  ephemeral API.
- ``TUNEFLOWS_PREFECT_SERVER=ephemeral``: Prefect's ephemeral API server, a subprocess
  without a UI that ends with the driver (even a SIGKILLed one:
  :mod:`tuneflows.services.orphan_guard` watches it).

This all runs beside the driver's start of Ray, on two threads in copies of the caller's
context (so a Prefect settings context is seen there too): one reads Prefect's settings
and starts (or finds) the server, as early as possible; the other imports the flow
module (Prefect's flow engine and prefect-ray), which the run needs next.
"""

from __future__ import annotations

import contextvars
import importlib
import logging
import os
import sys
import threading
import time
from typing import Callable, Optional, Sequence

from tuneflows.error import TuneError
from tuneflows.services.local_prefect_server import (
    LocalServer, ServerStartError, ensure_server, new_database_from_snapshot, preferred_port,
    stop_server,
)
from tuneflows.services.orphan_guard import guard_child
from tuneflows.services.prefect_home_probe import home_from_environment
from tuneflows.services.prefect_servers import database_of
from tuneflows.services.startup_timeline import mark

logger = logging.getLogger(__name__)

#: Held while a thread of :class:`PrefectApiStart` imports Prefect: two threads importing
#: it at once can meet a half-initialised ``prefect.context`` (Prefect then prints
#: "Failed to initialize plugins: cannot import name 'SettingsContext' ...").
_IMPORTING_PREFECT = threading.Lock()

SERVER_ENV = "TUNEFLOWS_PREFECT_SERVER"
MODES = ("local", "ephemeral")
JOIN_MARGIN_S = 60.0  # beyond the server start-up deadline: the imports

_provided_api_url: Optional[str] = None  # the local server's URL this process set
_guarded: set[int] = set()  # ephemeral servers an orphan guard watches


def server_mode() -> str:
    """``TUNEFLOWS_PREFECT_SERVER``: ``"local"`` (default) or ``"ephemeral"``.

    Raises:
        ValueError: Another value.
    """
    mode = os.environ.get(SERVER_ENV, "local").strip().lower() or "local"
    if mode not in MODES:
        raise ValueError(f"{SERVER_ENV} must be one of {', '.join(MODES)}; got {mode!r}.")
    return mode


class PrefectApiStart:
    """The Prefect API of a run, provided on background threads while Ray starts.

    Raises (on construction):
        ValueError: A bad ``TUNEFLOWS_PREFECT_SERVER`` or ``TUNEFLOWS_PREFECT_PORT``.

    Example:
        >>> import os
        >>> os.environ[SERVER_ENV] = "nowhere"
        >>> PrefectApiStart()
        Traceback (most recent call last):
        ...
        ValueError: TUNEFLOWS_PREFECT_SERVER must be one of local, ephemeral; got 'nowhere'.
        >>> del os.environ[SERVER_ENV]
    """

    def __init__(self, warm_imports: Sequence[str] = ()) -> None:
        """Starts providing the API, and imports the ``warm_imports`` modules (the
        caller's Prefect flows) on another thread meanwhile."""
        self.mode = server_mode()
        if self.mode == "local":
            preferred_port()  # a bad port fails here, before anything starts
        self.server: Optional[LocalServer] = None  # the local server, when one is used
        self.started_server = False
        self._timeout = float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", 180))
        self._errors: list[BaseException] = []
        # the home known from the environment alone: its server starts before Prefect's
        # settings are imported (tuneflows.services.prefect_home_probe)
        self._known_home = _home_from_environment() if self.mode == "local" else None
        self._threads = [self._start_thread(self._provide_api, "tuneflows-prefect-api"),
                         self._start_thread(lambda: self._import(warm_imports),
                                            "tuneflows-prefect-import")]

    def wait(self, announce: bool = False) -> None:
        """Waits until the API answers; with ``announce``, prints the UI's URL.

        Raises:
            TuneError: The API is not up within its start-up deadline.
        """
        deadline = time.monotonic() + self._timeout + JOIN_MARGIN_S
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
            if thread.is_alive():
                raise TuneError(f"The Prefect API did not start within {self._timeout:.0f} s "
                                "(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS).")
        if self._errors:
            raise self._errors[0]
        if announce and self.server is not None:
            if self.server.owner != "tuneflows":
                print(f"Prefect UI: {self.server.ui_url} (watch the run live; the Prefect "
                      f"server already serving this PREFECT_HOME's database: "
                      f"`{self.server.owner}`, pid {self.server.pid})", flush=True)
                return
            kept = ("a local Prefect server tuneflows started; later runs reuse it"
                    if self.started_server else "the local Prefect server")
            print(f"Prefect UI: {self.server.ui_url} (watch the run live; {kept}; "
                  "`tuneflows server stop` ends it)", flush=True)

    def _start_thread(self, work: Callable[[], None], name: str) -> threading.Thread:
        def run() -> None:
            try:
                work()
            except BaseException as exc:  # noqa: BLE001 - raised again by wait()
                self._errors.append(exc)

        context = contextvars.copy_context()
        thread = threading.Thread(target=context.run, args=(run,), name=name, daemon=True)
        thread.start()
        return thread

    @staticmethod
    def _import(modules: Sequence[str]) -> None:
        with _IMPORTING_PREFECT:
            for module in modules:
                importlib.import_module(module)
        mark("Prefect flow module imported")

    def _provide_api(self) -> None:
        failure: Optional[ServerStartError] = None
        if self._known_home is not None:  # started before Prefect's settings are read
            try:
                self.server, self.started_server = ensure_server(self._known_home, self._timeout)
                mark("Prefect server found")
            except ServerStartError as exc:
                failure = exc
        with _IMPORTING_PREFECT:
            from prefect.settings import (
                PREFECT_API_URL, PREFECT_HOME, PREFECT_SERVER_EPHEMERAL_ENABLED,
            )

        configured = PREFECT_API_URL.value()
        home = str(PREFECT_HOME.value())
        if self._known_home is not None and (configured or not _same_path(home, self._known_home)
                                             or not PREFECT_SERVER_EPHEMERAL_ENABLED.value()):
            self._discard_server(f"Prefect's settings name {configured or home}")
            failure = None
        if configured and configured != _provided_api_url:
            return  # the user's (or a test harness's) server
        if not configured and not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
            return  # no server wanted here: Prefect says so at the first flow run
        if self.server is not None:
            self._point_at_server()
            return
        # read from the environment, where tuneflows' default (180 s) is: Prefect's settings
        # keep its own 20 s when a script imported prefect before tuneflows (flows/), too
        # short for a new database's migration on a busy machine
        timeout = self._timeout
        if self.mode == "local":
            try:
                if failure is not None:
                    raise failure
                self._use_server(home)
                return
            except ServerStartError as exc:
                logger.warning("%s\nThis run uses Prefect's ephemeral API instead.", exc)
        _point_prefect_at(None)
        _ephemeral_database_from_snapshot()
        from prefect.server.api.server import SubprocessASGIServer

        server = SubprocessASGIServer()  # Prefect's singleton: the one its client uses
        server.start(timeout=timeout)
        _guard_once(server.server_process.pid if server.server_process else None)

    def _use_server(self, home: str) -> None:
        """Finds or starts the local server of ``home`` and points Prefect's client at it.

        Raises:
            ServerStartError: It did not become healthy in time.
        """
        self.server, self.started_server = ensure_server(home, self._timeout)
        self._point_at_server()

    def _point_at_server(self) -> None:
        assert self.server is not None
        _point_prefect_at(self.server.api_url)
        mark("Prefect server started" if self.started_server else "Prefect server reused")

    def _discard_server(self, reason: str) -> None:
        """Forgets the server started from the environment alone when Prefect's settings
        name another API or home (and stops it if this run started it)."""
        if self.server is None:
            return
        logger.warning("The local Prefect server of %s was started before Prefect's settings "
                       "were read, and %s: that one is used instead.", self._known_home, reason)
        if self.started_server:
            stop_server(self._known_home)
        self.server, self.started_server = None, False


def _ephemeral_database_from_snapshot() -> None:
    """Makes the database of Prefect's ephemeral server from the schema snapshot, as the
    local server's is, when it is a SQLite file that does not exist yet."""
    from prefect.settings import get_current_settings

    url = get_current_settings().server.database.connection_url
    value = url.get_secret_value() if url is not None else ""
    if value and ":memory:" not in value:
        new_database_from_snapshot(database_of({"PREFECT_SERVER_DATABASE_CONNECTION_URL": value},
                                               os.path.expanduser("~")))


def _home_from_environment() -> Optional[str]:
    try:
        cwd = os.getcwd()
    except OSError:  # a removed working directory: Prefect's settings decide
        return None
    return home_from_environment(os.environ, cwd, os.path.expanduser("~"),
                                 imported="prefect" in sys.modules)


def _same_path(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _guard_once(server_pid: Optional[int]) -> None:
    """Makes the ephemeral server end with this process even after a SIGKILL (Prefect
    stops it only from an exit handler) — once per server."""
    if server_pid is None or server_pid in _guarded:
        return
    _guarded.add(server_pid)
    guard_child(server_pid)


def _point_prefect_at(api_url: Optional[str]) -> None:
    """Points this process's Prefect client (and its child processes) at ``api_url``, or
    back to no server when this process had set one."""
    global _provided_api_url
    from prefect.context import refresh_global_settings_context

    if api_url is not None:
        os.environ["PREFECT_API_URL"] = api_url
    elif _provided_api_url is not None and os.environ.get("PREFECT_API_URL") == _provided_api_url:
        del os.environ["PREFECT_API_URL"]
    else:
        return
    _provided_api_url = api_url
    refresh_global_settings_context()


def use_run_api(announce: bool = True) -> None:
    """Points this process at the Prefect API ``run_experiments`` uses (``PREFECT_API_URL``,
    else the local server of ``PREFECT_HOME``, started if need be), for a script whose own
    flow calls ``run_experiments``: started first, that flow would go to Prefect's
    ephemeral API and its experiments to the local server, two databases. With
    ``announce``, prints the UI's URL.

    Example:
        >>> if __name__ == "__main__":  # a pipeline script   # doctest: +SKIP
        ...     use_run_api()
        ...     my_pipeline_flow()

    Raises:
        TuneError: The API is not up within its start-up deadline.
    """
    PrefectApiStart().wait(announce=announce)
