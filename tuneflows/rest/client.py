"""The Client API's Python client: lists, inspects, adds and stops trials of a running
experiment through its :class:`~tuneflows.rest.server.TuneServer`.

Example:
    >>> from tuneflows.web_server import TuneClient
    >>> client = TuneClient("localhost:4321")                       # doctest: +SKIP
    >>> [t["status"] for t in client.get_all_trials()["trials"]]    # doctest: +SKIP
    ['RUNNING', 'RUNNING']
    >>> new = client.add_trial("my_experiment", {"config": {"lr": 0.1}})  # doctest: +SKIP
    >>> client.stop_trial(new["trials"][0]["id"])                   # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Optional

import httpx

from tuneflows.error import TuneError
from tuneflows.rest.config_checks import check_resolved_config
from tuneflows.rest.protocol import API_PREFIX, DEFAULT_PORT
from tuneflows.rest.guards import TOKEN_ENV

class TuneClientError(TuneError):
    """The TuneServer refused a request (or could not be reached).

    Attributes:
        status_code: The HTTP status (None when the server could not be reached).
        detail: The server's message.
    """

    def __init__(self, message: str, status_code: Optional[int] = None, detail: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail or message


class TuneClient:
    """Client to interact with an ongoing experiment (the seed's ``TuneClient``).

    Requires the server to be running (``run_experiments(..., with_server=True)``).

    Args:
        tune_address: ``host:port`` of the TuneServer (or a full ``http://`` URL).
        timeout: Seconds to wait for each response.
        token: The server's bearer token (default ``TUNEFLOWS_SERVER_TOKEN``, if set).
        shapes: ``"seed"`` (the default): the seed's requests and answers (``{"trials":
            [...]}``, ``{"trial_info": ...}``, ``add_trial`` with a whole spec);
            ``"tuneflows"``: the routes under ``/api`` (a list of trials, one trial,
            ``add_trial`` with a resolved config only).

    Example:
        >>> client = TuneClient("localhost:4321")                        # doctest: +SKIP
        >>> trials = client.get_all_trials()["trials"]                  # doctest: +SKIP
        >>> info = client.get_trial(trials[0]["id"])["trial_info"]     # doctest: +SKIP
        >>> info["result"]["training_iteration"]                        # doctest: +SKIP
        12
        >>> client.add_trial("my_experiment", {"run": "train_func", "repeat": 2,
        ...                  "config": {"lr": {"grid_search": [0.1, 0.3]}}})  # doctest: +SKIP
        >>> client.stop_trial(trials[0]["id"])                          # doctest: +SKIP
    """

    def __init__(self, tune_address: str = f"localhost:{DEFAULT_PORT}", timeout: float = 30.0,
                 shapes: str = "seed", token: Optional[str] = None) -> None:
        if shapes not in ("seed", "tuneflows"):
            raise ValueError(f"shapes must be 'seed' or 'tuneflows', got {shapes=!r}.")
        address = tune_address if "://" in tune_address else f"http://{tune_address}"
        self.tune_address = tune_address
        self.shapes = shapes
        self._prefix = "" if shapes == "seed" else API_PREFIX
        token = token or os.environ.get(TOKEN_ENV)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=address.rstrip("/"), timeout=timeout, headers=headers)

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise TuneClientError(f"Cannot reach the TuneServer at {self.tune_address}: "
                                  f"{exc}") from exc
        if response.is_success:
            return response.json()
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise TuneClientError(f"TuneServer refused {method} {path} "
                              f"({response.status_code}): {detail}",
                              status_code=response.status_code, detail=str(detail))

    def get_all_trials(self) -> Any:
        """Returns all trials: ``{"trials": [info, ...]}`` (each with ``id``, ``config``,
        ``status``, ``result``...), or with ``shapes="tuneflows"`` a list of trials
        (trial_id, name, config, status, last_result...).

        Raises:
            TuneClientError: No experiment is running, or the server is unreachable.
        """
        return self._request("GET", f"{self._prefix}/trials")

    def get_trial(self, trial_id: str) -> dict[str, Any]:
        """Returns one trial: ``{"trial_info": info}``, or with ``shapes="tuneflows"``
        the trial itself, including its ``last_result``.

        Raises:
            TuneClientError: Unknown ``trial_id`` (status_code 404), naming it.
        """
        return self._request("GET", f"{self._prefix}/trials/{trial_id}")

    def add_trial(self, name: Optional[str], trial_spec: Mapping[str, Any]) -> dict[str, Any]:
        """Adds trials to the running experiment.

        Args:
            name: The experiment's name (None: the running one). Any other name
                becomes the new trials' tag.
            trial_spec: The seed's whole spec (``run``, ``stop``, ``config`` with
                ``grid_search``, ``repeat``...: every variant becomes a trial), or with
                ``shapes="tuneflows"`` only ``{"config": {...}}`` with plain values.
                ``run`` may be the trainable itself (its name is sent).

        Returns:
            ``{"trials": [info, ...]}`` of the new trials (``PENDING`` until a slot is
            free), or with ``shapes="tuneflows"`` the new trial.

        Raises:
            ValueError: The config holds a search domain or a function (they cannot
                be sent as JSON; the error names the key).
            TuneClientError: The server refused the spec (status_code 400), naming the
                key, e.g. an unknown spec key or another trainable than the experiment's.
        """
        spec = dict(trial_spec or {})
        if callable(spec.get("run")):
            spec["run"] = getattr(spec["run"], "__name__", spec["run"])
        try:
            return self._request("POST", f"{self._prefix}/trials",
                                 json={"name": name, "spec": spec})
        except TypeError:  # not JSON: name the domain or function that cannot be sent
            check_resolved_config(spec.get("config") or {})
            raise

    def stop_trial(self, trial_id: str) -> dict[str, Any]:
        """Requests to stop a trial; it ends TERMINATED (``"stopped by client"``) at its
        next result. Returns the trial as it is when asked (``{"trial_info": info}``, or
        with ``shapes="tuneflows"`` the trial).

        Raises:
            TuneClientError: Unknown ``trial_id`` (status_code 404).
        """
        return self._request("PUT", f"{self._prefix}/trials/{trial_id}")

    def get_status(self) -> str:
        """Returns the experiment's ``== Status ==`` block."""
        return self._request("GET", "/status")["status"]

    def close(self) -> None:
        """Closes the HTTP connection pool."""
        self._http.close()

    def __enter__(self) -> "TuneClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
