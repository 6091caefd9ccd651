"""Each trial runs in its own directory.

While a trial's trainable runs, its process's working directory is the trial's logdir
(``<local_dir>/<experiment>/<run id>/<trial>``), as in the seed and in today's Ray Tune:
files a trainable writes with relative paths land beside its ``result.json``. A reused
actor moves to each trial's directory as it starts it. ``TUNE_ORIG_WORKING_DIR`` holds
the driver's working directory, for files a trainable reads relative to the program. On
a node other than the driver's, the directory is made on that node.
"""

from __future__ import annotations

import os

from tuneflows.trainable import TrialIdentity

#: Environment variable holding the driver's working directory inside a trial.
ORIG_WORKING_DIR_ENV = "TUNE_ORIG_WORKING_DIR"


def enter_trial_dir(identity: TrialIdentity) -> None:
    """Makes the trial's logdir this process's working directory (creating it) and sets
    ``TUNE_ORIG_WORKING_DIR``; an identity without them changes nothing.

    Example:
        >>> import tempfile
        >>> trial_dir = os.path.join(tempfile.mkdtemp(), "exp", "run", "trial_0")
        >>> here = os.getcwd()
        >>> enter_trial_dir(TrialIdentity(logdir=trial_dir, origin_dir=here))
        >>> os.getcwd() == os.path.realpath(trial_dir), os.environ[ORIG_WORKING_DIR_ENV] == here
        (True, True)
        >>> os.chdir(here)
    """
    if identity.origin_dir:
        os.environ[ORIG_WORKING_DIR_ENV] = identity.origin_dir
    if identity.logdir:
        os.makedirs(identity.logdir, exist_ok=True)
        os.chdir(identity.logdir)
