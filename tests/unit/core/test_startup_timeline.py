"""The start-up timeline: a child started after the driver's first milestone prints on
the driver's clock, and only the driver prints its exit."""

from __future__ import annotations

import os
import re
import subprocess
import sys

DRIVER = """
import subprocess, sys, time
from tuneflows.services.startup_timeline import mark
time.sleep(0.3)
mark("driver milestone")
subprocess.run([sys.executable, "-c",
                "from tuneflows.services.startup_timeline import mark; mark('child milestone')"],
               check=True)
"""


def test_a_child_prints_on_the_driver_s_clock_and_only_the_driver_prints_its_exit():
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNEFLOWS_TIMING")}
    done = subprocess.run([sys.executable, "-c", DRIVER], env={**env, "TUNEFLOWS_TIMING": "1"},
                          capture_output=True, text=True, timeout=120, check=True)
    lines = re.findall(r"\[tuneflows timing\]\s+([\d.]+) s  (.+)", done.stderr)
    assert [name for _, name in lines] == ["driver milestone", "child milestone",
                                           "process exit"], done.stderr
    seconds = [float(s) for s, _ in lines]
    assert 0.3 <= seconds[0] <= seconds[1] <= seconds[2]  # one clock: the driver's
