"""The regsuite plugin contract.

Every hook regsuite calls is specified here; each docstring is that hook's
specification. Plugins implement hooks with :data:`regsuite.hookimpl`.

There are two levels.

**Discovery hooks** run on the global plugin manager, where plugin modules are
registered from the ``regsuite`` entry-point group (built-ins included, exactly
like third-party packages). They say what a plugin provides.

**Run hooks** run on a per-run plugin manager on which only the method objects
of that run are registered (for ``--method sam+cutout``: one ``SAM`` and one
``Cutout`` instance). Task training loops call them. In one optimisation step
the order is::

    regsuite_transform_batch      (once per step, each method in composition order, chained)
    regsuite_train_step           (firstresult: if claimed, replaces the default step below)
      forward                     primary pass, at the current weights w
      regsuite_loss               (firstresult; task's own loss otherwise)
      regsuite_penalty            (all results are summed into the loss)
      backward
      regsuite_after_backward     (gradient transforms, in composition order; once per step)
      optimizer.step, scheduler.step
      regsuite_after_step         (once per step: commit per-step state here)
    state.step += 1

A step procedure (SAM, GAM, finite differences) runs several passes in one step::

    forward/loss/penalty at w            primary pass   (state.probe is False)
    forward/loss/penalty at w + e, ...   probe passes   (state.probe is True)
    p.grad <- the gradient to apply, weights back at w
    regsuite_after_backward              once, on that gradient
    optimizer.step, scheduler.step, regsuite_after_step      once

**The step contract.** State that a method keeps across steps (past predictions,
domain weights, moving averages, memory banks, counters) advances exactly once
per optimizer step, whatever the procedure:

* read it in every pass: a probe evaluates the *same* step objective at other
  weights, so it sees the committed state the primary pass saw, and reuses the
  per-step constants the primary pass derived from it (GroupDRO's step weights);
* compute its update only from the primary pass (``if not state.probe``), and
  keep it pending on the method;
* commit it in ``regsuite_after_step`` (called once per step).

``state.step`` counts finished steps and only changes between steps, so reading
it in a penalty is safe. Normalisation running statistics are restored after each
probe. ``regsuite.testing`` checks the contract for any method (``step-contract``):
a run with plain steps and a run whose every step adds a probe at the same weights
must end with identical weights and identical method state.

Once per run, around the steps::

    regsuite_select_training_data (firstresult; tasks that provide "data_selection" only)
    regsuite_run_start -> regsuite_configure_optimizer -> regsuite_configure_scheduler
    ... steps ...  (regsuite_on_experience_start/end around each experience)
    regsuite_run_end   (may return extra metrics)

A hook that no method of the run implements is never called in the hot loop.
For a ``firstresult`` hook, at most one method of a composition may implement
it; two claimants are rejected before anything runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # only for annotations; torch stays lazily imported
    import torch

    from .method import Method
    from .state import TrainState
    from .suite import Suite
    from .selection import TrainingSet
    from .task import Budget, Task

PROJECT = "regsuite"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

# Run hooks whose single result is used; two implementations in one composition conflict.
FIRSTRESULT_RUN_HOOKS = (
    "regsuite_configure_optimizer",
    "regsuite_configure_scheduler",
    "regsuite_loss",
    "regsuite_train_step",
    "regsuite_select_training_data",
)


# ---------------------------------------------------------------- discovery


@hookspec
def regsuite_methods() -> list[type[Method]]:
    """Return the :class:`regsuite.Method` subclasses this plugin provides.

    Called once at start-up on the global plugin manager. Method names must be
    unique across all plugins; a duplicate is reported with both plugin names.
    Importing the plugin module must not import torch or other heavy libraries:
    import them inside hook implementations.
    """


@hookspec
def regsuite_tasks() -> list[Task]:
    """Return the :class:`regsuite.Task` objects this plugin provides.

    Each task names the suite it belongs to; that suite must be provided by
    some plugin (see :func:`regsuite_suites`).
    """


@hookspec
def regsuite_suites() -> list[Suite]:
    """Return the :class:`regsuite.Suite` definitions this plugin provides.

    A suite is a named, versioned collection of tasks (usually loaded from a
    TOML file shipped as package data with :meth:`regsuite.Suite.from_toml`).
    Its version is part of every run id.
    """


# ---------------------------------------------------------------- run hooks


@hookspec(firstresult=True)
def regsuite_select_training_data(data: TrainingSet, state: TrainState) -> Any:
    """Choose the training examples the run trains on; return their indices, or None for all.

    Who calls it: :func:`regsuite.loop.train_supervised`, once per run, before the optimizer
    exists and before the batch stream is built, when the task gave it its training set
    (``train=``) and a stream builder (``batches`` as a function). Tasks whose loop can do this
    provide the capability ``"data_selection"``; a method implementing this hook declares
    ``requires = frozenset({"data_selection"})`` so that it never runs where it would do
    nothing. A run with this hook on a task that passes a ready batch stream is an error.

    What it sees: ``data`` (:class:`regsuite.selection.TrainingSet`) holds the whole training set
    as CPU tensors indexed along dimension 0 (``data.tensors``: ``"x"``, ``"y"`` and the task's
    other keys), ``data.make_model()`` (a freshly initialised model of the task, on the run's
    device), ``data.make_batches(tensors, generator)`` (the task's own infinite batch stream,
    augmentation included, over any subset) and ``data.batch_size``. ``state`` is the run's
    :class:`TrainState` (``forward``, ``task_loss``, ``budget``, ``seed``, ``device``, ``hooks``);
    its model is the run's, untrained, and must not be changed. The method may train scratch
    models (``data.make_model()``) to score examples, e.g. with the optimizer the run's
    ``regsuite_configure_optimizer`` gives for them. It never sees validation or test data and
    must not use them.

    Cost: the loop times the call and adds it to the run's training time (``train_s``), and the
    method reports the optimizer steps and samples of its scoring trainings with
    ``data.charge(steps, samples)``; they are added to the run's ``steps`` and ``samples``, so a
    method that buys its selection with extra training is charged for it. The run then trains
    for its full ``budget.steps`` on the selected examples.

    What it returns: None (keep every example), or a 1-D sequence of distinct integer indices
    into the training set (a tensor, a numpy array or a list), at least ``data.batch_size`` of
    them. Anything else (duplicates, out-of-range or non-integer values, too few) ends the run
    with one error naming the method. Order does not matter: the selected examples keep their
    original indices (``"index"``) and the stream shuffles them. At most one method of a
    composition may implement it.
    """


@hookspec
def regsuite_run_start(model: torch.nn.Module, state: TrainState) -> None:
    """Called once after the model is built and before the optimizer exists.

    Use it to snapshot initial weights (L2-to-init, Mixout) or to wrap modules.
    """


@hookspec(firstresult=True)
def regsuite_configure_optimizer(model: torch.nn.Module, budget: Budget) -> Any:
    """Build and return the ``torch.optim.Optimizer`` for ``model``.

    Receives the model, not only its parameters, so that methods like Muon can
    group parameters by shape or role. When no method of the run implements
    it, the task's default optimizer method is added to the composition.
    """


@hookspec(firstresult=True)
def regsuite_configure_scheduler(optimizer: Any, budget: Budget) -> Any:
    """Return a learning-rate scheduler stepped once per optimizer step, or None.

    ``budget.steps`` is the total number of optimizer steps of the run.
    """


@hookspec
def regsuite_transform_batch(batch: dict, state: TrainState) -> dict | None:
    """Return a transformed training batch (augmentation), or None to keep it.

    Implementations are applied one after another in composition order, each
    receiving the previous one's output. Batches are dicts; classification
    tasks use ``{"x": inputs, "y": labels}`` plus task-specific keys such as
    ``"domain"``. A transform may add keys (mixup adds ``"y_mix"`` and
    ``"lam"``) that a loss hook then reads.
    """


@hookspec(firstresult=True)
def regsuite_loss(outputs: Any, batch: dict, state: TrainState) -> torch.Tensor | None:
    """Return the scalar training loss replacing the task's own loss, or None.

    Called in every pass of a step (primary and probes). A loss with per-step state
    (PS-KD's past predictions, GroupDRO's domain weights) reads the committed state in
    every pass, computes the step's update only when ``not state.probe`` and commits it
    in ``regsuite_after_step``.
    """


@hookspec
def regsuite_penalty(
    model: torch.nn.Module, outputs: Any, batch: dict, state: TrainState
) -> torch.Tensor | None:
    """Return a scalar added to the training loss (regularizers), or None.

    Results of all implementations are summed. Called in every pass of a step, like
    :func:`regsuite_loss`, with the same rule for per-step state (moving averages, banks):
    read in every pass, computed from the primary pass (``not state.probe``), committed
    in ``regsuite_after_step``.
    """


@hookspec
def regsuite_after_backward(model: torch.nn.Module, state: TrainState) -> None:
    """Transform gradients in place after ``backward`` and before the optimizer step.

    Gradient clipping, Grokfast filtering, projections. Called in composition order,
    exactly once per optimizer step, on the gradient the optimizer applies (under SAM:
    the gradient taken at the perturbed weights), with the weights back where the
    optimizer steps from. Intermediate gradients of a step procedure (SAM's ascent
    gradient, finite-difference probes) are never transformed. A stateful transform
    (Grokfast's EMA) may therefore update its state here directly.
    """


@hookspec(firstresult=True)
def regsuite_train_step(state: TrainState) -> torch.Tensor | None:
    """Take full control of one optimisation step; return the step's loss tensor.

    Used by step procedures such as SAM that need several forward/backward
    passes. ``state.batch`` holds the (already transformed) batch. Use
    ``state.forward_loss(batch)`` for forward + loss + penalties (the step's first
    call is its primary pass, later ones are probes; wrap a pass in
    ``with state.probing():`` to make it a probe explicitly), plain
    ``loss.backward()`` for intermediate gradients, then, with the gradient to apply
    in ``p.grad`` and the weights back at the point the optimizer steps from,
    ``state.transform_gradients()`` (or ``state.backward(loss)`` when that gradient
    is a plain backward at those weights) and ``state.optimizer_step()``, each
    exactly once, so that the procedure composes with the other methods of the run.
    A second transform or optimizer step in one step raises.
    """


@hookspec
def regsuite_after_step(model: torch.nn.Module, state: TrainState) -> None:
    """Called once after every optimizer step (weight averaging, projections, reparameterizations).

    The place to commit per-step state computed during the step's primary pass
    (see the step contract in the module docstring). ``state.step`` still counts the
    steps finished before this one.
    """


@hookspec
def regsuite_on_experience_start(model: torch.nn.Module, experience: Any, state: TrainState) -> None:
    """Continual learning: called before training on a new experience (task)."""


@hookspec
def regsuite_on_experience_end(model: torch.nn.Module, experience: Any, state: TrainState) -> None:
    """Continual learning: called after training on an experience (Fisher, replay buffers)."""


@hookspec
def regsuite_run_end(model: torch.nn.Module, state: TrainState) -> dict[str, float] | None:
    """Called once after training; may return extra metrics (diagnostics) for the run row."""
