"""Which ``PREFECT_HOME`` a run's local Prefect server serves, decided without importing
Prefect when the environment alone decides it.

Importing Prefect's settings costs about 1 s of CPU, and 4-6 s of wall time while Ray
and the flow module are imported beside it; a new ``PREFECT_HOME``'s server (its import
and database migration, ≈ 8 s of CPU) can start only after it. When no file could change
Prefect's settings, the answer is already known from the environment: no
``PREFECT_API_URL`` (so a server is wanted), Prefect's default profile (the ephemeral
profile, so a server may be started), and ``PREFECT_HOME`` or ``~/.prefect``. Then the
server is started at once, and Prefect's settings are read afterwards to confirm it
(:mod:`tuneflows.services.prefect_api`).

Anything else that Prefect reads its settings from sends the caller to Prefect's own
settings: a ``PREFECT_*`` variable that names the API, a profile, a profiles file or the
ephemeral mode; a profiles file in the home; a ``.env`` setting a ``PREFECT_*`` variable,
a ``prefect.toml``, or a ``pyproject.toml`` with a ``[tool.prefect]`` table in the working
directory; or Prefect already imported (a settings context such as a test harness's may be active).

Example:
    >>> import tempfile
    >>> work = tempfile.mkdtemp()
    >>> home_from_environment({"PREFECT_HOME": work + "/p"}, work, "/root", imported=False) == work + "/p"
    True
    >>> home_from_environment({"PREFECT_API_URL": "http://h/api"}, work, "/root", imported=False) is None
    True
"""

from __future__ import annotations

import os
import re
from typing import Mapping, Optional

#: Variables that make Prefect's settings, not the environment alone, decide.
DECIDING_VARIABLES = ("PREFECT_API_URL", "PREFECT_PROFILE", "PREFECT_PROFILES_PATH",
                      "PREFECT_TEST_MODE", "PREFECT_UNIT_TEST_MODE",
                      "PREFECT_SERVER_EPHEMERAL_ENABLED", "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE")
#: Files in the working directory Prefect reads settings from (``.env`` only its
#: ``PREFECT_*`` lines).
SETTINGS_FILES = ("prefect.toml",)
_PREFECT_LINE = re.compile(r"^\s*(export\s+)?PREFECT_", re.MULTILINE)


def home_from_environment(environ: Mapping[str, str], cwd: str, user_home: str,
                          imported: bool) -> Optional[str]:
    """The ``PREFECT_HOME`` whose local server a run uses, when the environment alone
    decides it; None when Prefect's settings must be read.

    Args:
        environ: The process's environment.
        cwd: The working directory (where Prefect looks for ``.env``, ``prefect.toml``
            and ``pyproject.toml``).
        user_home: The user's home directory (Prefect's default home is ``~/.prefect``).
        imported: Whether Prefect is already imported in this process.

    Example:
        >>> import os, tempfile
        >>> work = tempfile.mkdtemp()
        >>> home_from_environment({}, work, "/u", imported=False)
        '/u/.prefect'
        >>> home_from_environment({}, work, "/u", imported=True) is None
        True
        >>> with open(os.path.join(work, "pyproject.toml"), "w") as f:
        ...     _ = f.write('[tool.prefect]\\nprofiles_path = "p.toml"\\n')
        >>> home_from_environment({}, work, "/u", imported=False) is None
        True
    """
    if imported or any(environ.get(name) for name in DECIDING_VARIABLES):
        return None
    home = environ.get("PREFECT_HOME") or os.path.join(user_home, ".prefect")
    home = os.path.abspath(os.path.expanduser(home))
    if os.path.exists(os.path.join(home, "profiles.toml")):
        return None
    if any(os.path.exists(os.path.join(cwd, name)) for name in SETTINGS_FILES):
        return None
    if _dotenv_sets_prefect(os.path.join(cwd, ".env")):
        return None
    if _pyproject_sets_prefect(os.path.join(cwd, "pyproject.toml")):
        return None
    return home


def _dotenv_sets_prefect(path: str) -> bool:
    """Whether ``path`` sets a ``PREFECT_*`` variable (an unreadable one counts as yes)."""
    if not os.path.exists(path):
        return False
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return _PREFECT_LINE.search(f.read()) is not None
    except OSError:
        return True


def _pyproject_sets_prefect(path: str) -> bool:
    """Whether ``path`` has a ``[tool.prefect]`` table (an unreadable one counts as yes)."""
    if not os.path.exists(path):
        return False
    import tomllib

    try:
        with open(path, "rb") as f:
            return "prefect" in tomllib.load(f).get("tool", {})
    except (OSError, ValueError):
        return True
