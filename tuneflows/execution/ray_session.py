"""Starting or joining Ray once per driver process."""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any, Iterator, Optional

logger = logging.getLogger(__name__)


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
            ray.init(address="local", **kwargs)


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
