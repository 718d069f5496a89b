"""An external regsuite suite: one suite definition (suite.toml) and one task.

Discovery hooks are module-level functions; regsuite calls them once per process. Heavy
imports (torch, numpy) stay inside the task's methods, so `regsuite list` stays fast.
"""

from __future__ import annotations

from regsuite import Suite, hookimpl


@hookimpl
def regsuite_suites():
    return [Suite.from_toml(__name__, "suite.toml")]


@hookimpl
def regsuite_tasks():
    from .task import SineMLP

    return [SineMLP()]
