"""Which local Prefect server a run uses, decided without importing Prefect
(tuneflows/services/prefect_home_probe.py), and the run confirming it with Prefect's
settings (tuneflows/services/prefect_api.py), on the stand-in server of
test_local_server_rules."""

from __future__ import annotations

import os
import sys

import pytest

import tuneflows.services.local_prefect_server as lps
import tuneflows.services.prefect_api as prefect_api
from stand_in_servers import HEALTH
from tuneflows.services.prefect_home_probe import DECIDING_VARIABLES, home_from_environment


@pytest.fixture
def work(tmp_path):
    path = tmp_path / "work"
    path.mkdir()
    return str(path)


def probe(work, **environ):
    return home_from_environment(environ, work, "/users/me", imported=False)


def test_the_environment_alone_names_the_home(work):
    assert probe(work) == "/users/me/.prefect"
    assert probe(work, PREFECT_HOME="~/elsewhere/../p") == os.path.expanduser("~/p")
    assert probe(work, PREFECT_HOME="/h", PREFECT_SERVER_ANALYTICS_ENABLED="false") == "/h"


def test_prefect_already_imported_decides(work):
    assert home_from_environment({}, work, "/u", imported=True) is None


@pytest.mark.parametrize("name", DECIDING_VARIABLES)
def test_a_variable_naming_the_api_or_a_profile_decides(work, name):
    assert probe(work, **{name: "x"}) is None


def test_a_prefect_toml_in_the_working_directory_decides(work):
    open(os.path.join(work, "prefect.toml"), "w").close()
    assert probe(work) is None


def test_only_a_dotenv_setting_prefect_variables_decides(work):
    path = os.path.join(work, ".env")
    with open(path, "w") as f:
        f.write("DATABASE=postgres://db\n# PREFECT_API_URL=http://old/api\n")
    assert probe(work) == "/users/me/.prefect"
    with open(path, "a") as f:
        f.write("export PREFECT_API_URL=http://127.0.0.1:4300/api\n")
    assert probe(work) is None


def test_a_profiles_file_in_the_home_decides(work, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    assert probe(work, PREFECT_HOME=str(home)) == str(home)
    (home / "profiles.toml").write_text('active = "local"\n')
    assert probe(work, PREFECT_HOME=str(home)) is None


def test_only_a_pyproject_with_prefect_settings_decides(work):
    path = os.path.join(work, "pyproject.toml")
    with open(path, "w") as f:
        f.write('[project]\nname = "x"\ndependencies = ["prefect>=3"]\n')
    assert probe(work) == "/users/me/.prefect"
    with open(path, "w") as f:
        f.write('[tool.prefect.api]\nurl = "http://127.0.0.1:4300/api"\n')
    assert probe(work) is None
    with open(path, "w") as f:
        f.write("not toml [")
    assert probe(work) is None


@pytest.fixture
def stand_in(monkeypatch):
    monkeypatch.setattr(lps, "server_command", lambda port: [
        sys.executable, "-c", HEALTH, str(port), lps.APP])


def test_a_server_started_from_the_environment_is_used(stand_in, tmp_path, monkeypatch):
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    home = str(tmp_path / "p")
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setattr(prefect_api, "home_from_environment", lambda *a, **k: home)
    try:  # no API URL in the settings (the session's server may have put one there)
        with temporary_settings({PREFECT_HOME: home}, restore_defaults={PREFECT_API_URL}):
            api = prefect_api.PrefectApiStart()
            api.wait()
        assert api.started_server and lps.running_server(home) == api.server
        assert os.environ["PREFECT_API_URL"] == api.server.api_url
    finally:
        lps.stop_server(home, timeout=2)
        prefect_api._point_prefect_at(None)


def test_prefect_settings_naming_another_home_win(stand_in, tmp_path, monkeypatch):
    """The server started from the environment is stopped; the settings' home gets one."""
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    guessed, named = str(tmp_path / "guessed"), str(tmp_path / "named")
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setattr(prefect_api, "home_from_environment", lambda *a, **k: guessed)
    try:  # no API URL in the settings (the session's server may have put one there)
        with temporary_settings({PREFECT_HOME: named}, restore_defaults={PREFECT_API_URL}):
            api = prefect_api.PrefectApiStart()
            api.wait()
        assert lps.running_server(guessed) is None
        assert not os.path.exists(os.path.join(guessed, lps.STATE_FILE))
        assert api.server == lps.running_server(named) and api.started_server
    finally:
        for home in (guessed, named):
            lps.stop_server(home, timeout=2)
        prefect_api._point_prefect_at(None)


def test_a_configured_api_stops_the_server_started_from_the_environment(stand_in, tmp_path,
                                                                         monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    guessed = str(tmp_path / "guessed")
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setattr(prefect_api, "home_from_environment", lambda *a, **k: guessed)
    try:
        with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):
            api = prefect_api.PrefectApiStart()
            api.wait()
        assert api.server is None and lps.running_server(guessed) is None
        assert "PREFECT_API_URL" not in os.environ
    finally:
        lps.stop_server(guessed, timeout=2)


LAUNCH_BEFORE_IMPORT = """
import sys
import tuneflows.services.local_prefect_server as lps
from tuneflows.services import prefect_api

seen = []
def command(port):
    seen.append("prefect" in sys.modules)  # Prefect imported when the server is launched?
    return [sys.executable, "-c", sys.argv[1], str(port), lps.APP]

lps.server_command = command
api = prefect_api.PrefectApiStart(warm_imports=sys.argv[3:])
api.wait()
lps.stop_server(sys.argv[2], timeout=2)
print("prefect imported at launch:", seen)
"""


def start_in_a_fresh_process(tmp_path, *warm_imports: str):
    """Runs LAUNCH_BEFORE_IMPORT in a new interpreter with a new PREFECT_HOME and no other
    Prefect setting, as a user's script starts; returns the finished process."""
    import subprocess

    home, work = str(tmp_path / "p"), str(tmp_path / "w")
    os.makedirs(work)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=home, TUNEFLOWS_PREFECT_SERVER="local")
    out = subprocess.run([sys.executable, "-c", LAUNCH_BEFORE_IMPORT, HEALTH, home,
                          *warm_imports], cwd=work, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def test_a_new_homes_server_is_launched_before_prefect_is_imported(tmp_path):
    """In a fresh process (nothing imported Prefect), as a user's script starts."""
    out = start_in_a_fresh_process(tmp_path)
    assert "prefect imported at launch: [False]" in out.stdout


def test_the_flow_module_and_the_settings_import_prefect_one_after_the_other(tmp_path):
    """The server found at once, Prefect's settings are read while the other thread
    imports the flow module: one import of Prefect at a time (two at once met a
    half-initialised prefect.context, and Prefect printed 'Failed to initialize plugins'
    to the user's terminal on every later run)."""
    out = start_in_a_fresh_process(tmp_path, "tuneflows.orchestration.flow")
    assert "prefect imported at launch" in out.stdout
    assert "Failed to initialize plugins" not in out.stderr, out.stderr[-3000:]
    assert "partially initialized" not in out.stderr
