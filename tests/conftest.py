"""Shared fixtures: one real Ray session and one real Prefect server for the whole
suite; each integration test gets its own results directory and MLflow store."""

from __future__ import annotations

import os

import pytest

from tuneflows.process_defaults import apply_defaults

apply_defaults()


@pytest.fixture(scope="session")
def prefect_server():
    """A temporary Prefect API server (SQLite) for the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=None):
        yield


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray (2 CPUs, no dashboard) for the session."""
    import ray

    from tuneflows.execution.ray_session import ensure_ray

    ensure_ray(num_cpus=2)
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory):
    """One MLflow SQLite store for the session (creating one costs seconds of
    migrations); tests of the default store location use their own."""
    return "sqlite:///" + str(tmp_path_factory.mktemp("mlflow") / "mlflow.db")


@pytest.fixture
def local_dir(tmp_path, monkeypatch):
    """A fresh results directory."""
    monkeypatch.setenv("TUNE_RESULT_DIR", str(tmp_path / "ray_results"))
    return str(tmp_path / "ray_results")


@pytest.fixture
def tune_env(prefect_server, ray_session, local_dir, mlflow_uri, monkeypatch):
    """Everything an integration test needs: Prefect, Ray, MLflow and a results dir."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    return local_dir


def pytest_collection_modifyitems(items):
    for item in items:
        if "integration" in item.nodeid.split(os.sep):
            item.add_marker(pytest.mark.integration)
