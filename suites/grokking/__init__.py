"""The grokking suite: modular arithmetic, where training accuracy saturates long before the
validation accuracy jumps, and the primary metric is the number of steps until it does.

Data (``data.py``), the embedding MLP (``models.py``) and the tasks (``tasks.py``).
"""

from __future__ import annotations

from regsuite import Suite, hookimpl


@hookimpl
def regsuite_suites():
    return [Suite.from_toml(__name__, "suite.toml")]


@hookimpl
def regsuite_tasks():
    from .tasks import ALL

    return [cls() for cls in ALL]
