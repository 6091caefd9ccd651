"""Run ids: a sortable timestamp and four hex digits (``2026-12-02_00-31-05_ab12``),
one per run of an experiment. Pure.

Example:
    >>> import random
    >>> from datetime import datetime
    >>> new_run_id(datetime(2026, 12, 2, 0, 31, 5), rng=random.Random(0))
    '2026-12-02_00-31-05_0c53'
"""

from __future__ import annotations

import random
import re
from datetime import datetime
from typing import Iterable, Optional

from tuneflows.error import TuneError

RUN_ID_FORMAT = "%Y-%m-%d_%H-%M-%S"
_RUN_ID = re.compile(r"^\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}_[0-9a-f]{4}$")


def is_run_id(name: str) -> bool:
    """Whether ``name`` is a run id (``YYYY-MM-DD_HH-MM-SS_xxxx``).

    Example:
        >>> is_run_id("2026-12-02_00-31-05_ab12"), is_run_id("train_0_lr=0.1")
        (True, False)
    """
    return bool(_RUN_ID.match(name))


def new_run_id(now: Optional[datetime] = None, existing: Iterable[str] = (),
               rng: Optional[random.Random] = None) -> str:
    """A new run id: the time, then four hex digits that sort after every ``existing``
    id of the same second (so the newest run sorts last) and keep two drivers starting
    in the same second apart.

    Example:
        >>> new_run_id(datetime(2026, 1, 2, 3, 4, 5), ["2026-01-02_03-04-05_fffe"])
        '2026-01-02_03-04-05_ffff'
    """
    stamp = (now or datetime.now()).strftime(RUN_ID_FORMAT)
    taken = [int(r[-4:], 16) for r in existing if is_run_id(r) and r[:-5] == stamp]
    low = max(taken) + 1 if taken else 0
    if low > 0xFFFF:
        raise TuneError(f"More than 65536 runs started in the second {stamp}.")
    return f"{stamp}_{(rng or random.Random()).randint(low, min(low + 0xFFF, 0xFFFF)):04x}"
