"""regsuite: a benchmark suite and leaderboard for deep-learning training methods.

The public API for plugin authors is re-exported here. Importing regsuite does
not import torch; plugins import heavy libraries inside their hooks.
"""

from .claims import Claim
from .hookspec import hookimpl
from .method import FAMILIES, Citation, Fidelity, Method
from .space import BudgetSteps, Choice, IntRange, LogUniform, Param, Uniform
from .suite import Suite
from .target import Target
from .task import TIERS, Budget, DataMissing, Metric, Task

__all__ = [
    "FAMILIES",
    "TIERS",
    "Budget",
    "BudgetSteps",
    "Choice",
    "Citation",
    "Claim",
    "DataMissing",
    "Fidelity",
    "IntRange",
    "LogUniform",
    "Method",
    "Metric",
    "Param",
    "Suite",
    "Target",
    "Task",
    "Uniform",
    "hookimpl",
]


def __getattr__(name: str):
    if name == "__version__":
        from .provenance import regsuite_version

        return regsuite_version()
    raise AttributeError(name)
