"""Shared fixtures: one real Ray session and one real Prefect server for the whole
suite; each integration test gets its own results directory and MLflow store."""

from __future__ import annotations

import os

import pytest

from tuneflows.services.process_defaults import apply_defaults

apply_defaults()
# The run's pictures (a child process per experiment, ≈ 3 s of CPU for its imports and a
# drawing at the end) are off for the suite's many small runs; test_run_pictures turns
# them on.
os.environ.setdefault("TUNEFLOWS_PICTURES", "0")


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


def read_tensorboard_events(logdir: str) -> dict:
    """A trial's TensorBoard events read back: ``{"scalars": {tag: [(step, value)]},
    "hparams": {name: value}}``, with tensorboard's reader when it is installed, else
    by parsing the event files' records with tensorboardX's protocol buffers."""
    import glob
    import struct

    scalars: dict = {}
    hparams: dict = {}
    paths = sorted(glob.glob(os.path.join(logdir, "events.out.tfevents.*")))
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        EventAccumulator = None
    if EventAccumulator is not None:
        acc = EventAccumulator(logdir)
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            scalars[tag] = [(e.step, e.value) for e in acc.Scalars(tag)]
    from tensorboardX.proto import event_pb2, plugin_hparams_pb2

    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack("Q", data[offset:offset + 8])
            event = event_pb2.Event.FromString(data[offset + 12:offset + 12 + length])
            offset += 12 + length + 4
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "hparams":
                    plugin = plugin_hparams_pb2.HParamsPluginData.FromString(
                        value.metadata.plugin_data.content)
                    for name, hp in plugin.session_start_info.hparams.items():
                        kind = hp.WhichOneof("kind")
                        hparams[name] = getattr(hp, kind) if kind else None
                elif EventAccumulator is None and value.HasField("simple_value"):
                    scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    return {"scalars": scalars, "hparams": hparams}


@pytest.fixture
def tensorboard_events():
    """:func:`read_tensorboard_events`, for tests of the TensorBoard files."""
    return read_tensorboard_events
