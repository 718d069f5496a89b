"""The vision suite: image classification on digits (smoke) and CIFAR (standard, full)."""

from __future__ import annotations

from regsuite import Suite, hookimpl


@hookimpl
def regsuite_suites():
    return [Suite.from_toml(__name__, "suite.toml")]


@hookimpl
def regsuite_tasks():
    from .longtail import ALL as LONG_TAIL
    from .tasks import ALL

    return [cls() for cls in ALL + LONG_TAIL]
