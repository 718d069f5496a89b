"""What a task is: data, model, loop, budget and metrics, as one object.

A task is a subclass of :class:`Task` whose :meth:`Task.run` trains a model
under the run's method hooks and returns final metrics. Supervised tasks
usually delegate to :func:`regsuite.loop.train_supervised`; tasks with another
shape (continual streams, transport maps) write their own loop and call the
run hooks through ``ctx.hooks`` in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from .target import Target

if TYPE_CHECKING:
    from .context import RunContext

TIERS = ("smoke", "standard", "full")
REVISION_MARK = "+task"  # between a suite's version and a revised task's revision: "1+task2"


def suite_release(board_version: str) -> str:
    """The suite's version in a run's ``suite_version`` ("1+task2" -> "1"): what suite-wide views group by."""
    return str(board_version).split(REVISION_MARK, 1)[0]


def task_revision(board_version: str) -> int:
    """The task's revision in a run's ``suite_version`` ("1+task2" -> 2, "1" -> 1)."""
    _, _, rev = str(board_version).partition(REVISION_MARK)
    return int(rev) if rev.isdigit() else 1


@dataclass(frozen=True)
class Budget:
    """How long a run trains. ``steps`` is always set: schedules need it."""

    steps: int
    eval_every: int = 0  # 0: evaluate only at the end
    log_every: int = 10
    tokens: int | None = None  # for token budgets, steps * tokens per step
    epochs: float | None = None


@dataclass(frozen=True)
class Metric:
    name: str
    direction: str = "max"  # "max" or "min"

    def __post_init__(self) -> None:
        if self.direction not in ("max", "min"):
            raise ValueError(f"metric direction must be 'max' or 'min', got {self.direction!r}")

    def better(self, a: float, b: float) -> bool:
        return a > b if self.direction == "max" else a < b


class DataMissing(Exception):
    """Raised by :meth:`Task.check_data` when local data files are absent."""


class Task:
    """Base class of every task. Subclasses set the class attributes and implement run()."""

    suite: ClassVar[str]
    name: ClassVar[str]
    tier: ClassVar[str] = "smoke"
    description: ClassVar[str] = ""
    budget: ClassVar[Budget]
    primary: ClassVar[Metric]
    secondary: ClassVar[tuple[str, ...]] = ()
    # Diagnostics computed on one training batch at the end of a run and recorded as secondary
    # metrics (names from regsuite.diagnostics.DIAGNOSTICS, e.g. "hessian_top_eig").
    diagnostics: ClassVar[tuple[str, ...]] = ()
    # Method spec the task is compared against, and the optimizer a run gets
    # when none of its methods configures one.
    baseline: ClassVar[str]
    default_optimizer: ClassVar[str] = "adamw"
    # Schedule method added when no method of the run configures a scheduler (None: constant LR).
    default_schedule: ClassVar[str | None] = None
    # Capabilities this task offers to methods (e.g. "classification", "images", "domain_labels").
    provides: ClassVar[frozenset[str]] = frozenset()
    # Per-method hyperparameter defaults for this task, over the method's own defaults.
    hp_overrides: ClassVar[dict[str, dict[str, Any]]] = {}
    # Method families the leaderboard runs on this task (None: every applicable family); the
    # baseline always runs. Keeps the leaderboard's CPU budget where methods claim effects.
    leaderboard_families: ClassVar[frozenset[str] | None] = None
    # Methods the leaderboard runs on this task whatever their family (e.g. adam for a weight-decay
    # ablation next to the families above).
    leaderboard_extra: ClassVar[frozenset[str]] = frozenset()
    # Methods the leaderboard leaves off this task although they apply, each with its reason (e.g.
    # an optimizer that acts on hidden 2-D weight matrices only, on a model that has none: its row
    # would be its fallback optimizer under its name). Their stored tuned rows move to superseded/.
    leaderboard_exclude: ClassVar[dict[str, str]] = {}
    # False: a standard task that ``regsuite bench`` runs but the leaderboard leaves out entirely
    # (baseline included), e.g. a task kept for its own study whose board would cost CPU hours
    # without separating methods; ``leaderboard --dry-run`` lists it with this reason.
    on_leaderboard: ClassVar[bool] = True
    # Validation metric used for tuning (never the test metric).
    validation: ClassVar[Metric | None] = None
    # Time to target (regsuite.target): a validation threshold whose first crossing the loop
    # records (censored when never reached), optionally ending the run early once reached.
    target: ClassVar[Target | None] = None
    # torch CPU threads for a run (the runner applies it; ``bench --threads`` overrides it).
    # "auto": one thread on the smoke and standard tiers, whose small models gain nothing from
    # intra-op threads and lose 10-60x to their waiting on a busy machine; torch's default on
    # the full tier. An int pins the count; None leaves the process's setting alone.
    threads: ClassVar[int | str | None] = "auto"
    # Revision of the task's own settings (data, model, budget), counted from 1. Bump it when a change
    # alters what a run measures: run ids hash the suite's version and the task's key, not its
    # settings, so an unbumped change would make old runs cache hits. A revised task's rows carry
    # ``"<suite version>+task<revision>"`` (``board_version``), so results group old and new apart and
    # ``results retire`` moves the old ones to superseded/; the task's other suite-mates keep theirs.
    version: ClassVar[int] = 1

    def board_version(self, suite_version: str) -> str:
        """The version string this task's runs carry: the suite's, with ``+task<revision>`` from revision 2 on."""
        return suite_version if self.version == 1 else f"{suite_version}{REVISION_MARK}{self.version}"

    def cpu_threads(self) -> int | None:
        """The thread count this task's CPU runs get (None: keep the process's)."""
        if self.threads == "auto":
            return None if self.tier == "full" else 1
        return self.threads

    def check_data(self, ctx: RunContext) -> None:
        """Raise :class:`DataMissing` with a helpful message when local data is absent."""

    def run(self, ctx: RunContext) -> dict[str, float]:
        """Train and evaluate; return the final metrics (must include ``primary.name``)."""
        raise NotImplementedError

    @classmethod
    def key(cls) -> str:
        return f"{cls.suite}/{cls.name}"

    def __repr__(self) -> str:
        return f"<Task {self.key()} tier={self.tier}>"


@dataclass
class TaskList:
    """Convenience for plugins: collect task classes and instantiate them once."""

    tasks: list = field(default_factory=list)

    def add(self, cls):
        self.tasks.append(cls)
        return cls

    def instances(self) -> list[Task]:
        return [cls() for cls in self.tasks]
