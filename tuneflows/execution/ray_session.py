"""Starting or joining Ray once per driver process."""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any, Callable, Iterator, Optional

logger = logging.getLogger(__name__)

#: How often a new local Ray is started before its start-up error is raised: Ray gives its
#: raylet a fixed 30 s to register, which an overloaded machine can miss once.
LOCAL_START_ATTEMPTS = 2
SLOW_START_MESSAGE = "timed out during startup"


def node_ip_address() -> str:
    """This process's node address as Ray knows it; ``127.0.0.1`` outside a Ray session."""
    import ray

    try:
        if ray.is_initialized():
            return ray.util.get_node_ip_address()
    except Exception:  # noqa: BLE001 - any failure means "not on a Ray node"
        pass
    return "127.0.0.1"


def ensure_ray(address: Optional[str] = None, **init_kwargs: Any) -> None:
    """Initialises Ray unless it is already: a local instance without the dashboard,
    or the cluster at ``address`` (default: the ``RAY_ADDRESS`` environment variable).

    prefect-ray's ``RayTaskRunner`` then attaches to this session instead of starting
    and stopping Ray around every flow run (≈ 6 s each).
    """
    import ray

    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    kwargs: dict[str, Any] = {
        "include_dashboard": False,
        "logging_level": logging.WARNING,
        "configure_logging": True,
        "log_to_driver": True,
    }
    kwargs.update(init_kwargs)
    if address:
        _token_auth_for_existing_cluster()
        kwargs.pop("include_dashboard", None)
        logger.info("Connecting to the Ray cluster at %s", address)
        ray.init(address=address, **kwargs)
    else:
        # "local": a new local instance, never a cluster that `ray start` left behind on
        # this machine (ray.init() would join it; pass ray_address="auto" for that).
        with _quiet_token_notice():
            start_with_retry(lambda: ray.init(address="local", **kwargs), ray.shutdown)


def start_with_retry(start: Callable[[], Any], clean_up: Callable[[], Any],
                     attempts: int = LOCAL_START_ATTEMPTS) -> None:
    """Runs ``start``; when it fails because the node timed out during start-up, runs
    ``clean_up`` (ending what was started) and tries again, ``attempts`` times in all.

    Example:
        >>> tries = []
        >>> def start():
        ...     tries.append(1)
        ...     if len(tries) == 1:
        ...         raise Exception("The current node timed out during startup.")
        >>> start_with_retry(start, clean_up=lambda: None)
        >>> len(tries)
        2
    """
    for attempt in range(1, attempts + 1):
        try:
            start()
            return
        except Exception as exc:  # noqa: BLE001 - Ray raises a bare Exception here
            if SLOW_START_MESSAGE not in str(exc) or attempt == attempts:
                raise
            logger.warning("The local Ray did not start within Ray's 30 s (a busy machine?); "
                           "starting it again (attempt %d of %d).", attempt + 1, attempts)
            clean_up()


class _TokenNoticeFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Token authentication is enabled")


@contextlib.contextmanager
def _quiet_token_notice() -> Iterator[None]:
    """Ray 2.60 warns, on starting a local cluster with no ``RAY_AUTH_MODE`` set, that
    it turned token authentication on. For the private local Ray that tuneflows starts
    and stops itself there is nothing to do about it, so the notice is dropped; a
    cluster joined by address, and any other warning, still shows."""
    source = logging.getLogger("ray._private.authentication.authentication_token_setup")
    notice_filter = _TokenNoticeFilter()
    source.addFilter(notice_filter)
    try:
        yield
    finally:
        source.removeFilter(notice_filter)


def _token_auth_for_existing_cluster() -> None:
    """Joining a Ray 2.60 cluster (token authentication on by default) needs
    ``RAY_AUTH_MODE=token`` in the driver, which Ray reads when it is imported.
    ``tuneflows`` sets it on import when a token exists; when Ray was imported first,
    let Ray's own helper switch the mode on (it refreshes Ray's config)."""
    if "RAY_AUTH_MODE" in os.environ:
        return
    try:
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available,
        )
    except ImportError:  # other Ray versions decide this themselves
        return
    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


def cluster_resources() -> dict[str, float]:
    """Total CPUs and GPUs of the Ray cluster."""
    import ray

    total = ray.cluster_resources()
    return {"cpu": float(total.get("CPU", 0)), "gpu": float(total.get("GPU", 0))}
