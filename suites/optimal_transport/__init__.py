"""The optimal-transport suite: fit a transport map from samples, score it against the known OT map.

Pairs with known maps (Gaussian pairs, random-ICNN pairs; ``pairs.py``), MLP and
ICNN maps (``models.py``), L2-UVP / cosine / W2 (``metrics.py``) and the tasks
(``tasks.py``, which also documents how non-neural map estimators run as methods).
"""

from __future__ import annotations

from regsuite import Suite, hookimpl


@hookimpl
def regsuite_suites():
    return [Suite.from_toml(__name__, "suite.toml")]


@hookimpl
def regsuite_tasks():
    from .solver_tasks import SOLVER_TASKS
    from .tasks import ALL

    return [cls() for cls in ALL + SOLVER_TASKS]
