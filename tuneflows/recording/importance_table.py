"""The terminal's closing table of parameter importances, printed under the best trial
once a run has ended (rich renders it as plain text). Pure.

Example:
    >>> print(importance_table({"alpha": 0.9123, "learning_rate": 0.0877}, "acc"))
    Parameter importances for acc (fANOVA)
    ┏━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━┓
    ┃ parameter     ┃ importance ┃                      ┃
    ┡━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━┩
    │ alpha         │      0.912 │ ████████████████     │
    │ learning_rate │      0.088 │ ██                   │
    └───────────────┴────────────┴──────────────────────┘
"""

from __future__ import annotations

import io
from typing import Mapping

#: Most rows the table shows (the most important parameters).
MAX_ROWS = 10
_BAR = 20


def importance_table(importances: Mapping[str, float], metric: str) -> str:
    """The importances, most important first, as a boxed table with a bar each; empty
    when there are none."""
    if not importances:
        return ""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Parameter importances for {metric} (fANOVA)", box=box.HEAVY_HEAD,
                  title_justify="left", title_style=None)
    table.add_column("parameter")
    table.add_column("importance", justify="right")
    table.add_column("", width=_BAR)
    for name, share in list(importances.items())[:MAX_ROWS]:
        table.add_row(name, f"{share:.3f}", "█" * round(share * (_BAR - 2)))
    out = io.StringIO()
    Console(file=out, width=100, color_system=None, legacy_windows=False).print(table)
    return "\n".join(line.rstrip() for line in out.getvalue().rstrip().splitlines())
