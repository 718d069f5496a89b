"""The shared supervised training loop and classification metrics.

Tasks whose training is "draw a batch, take a step" call
:func:`train_supervised`; everything method-specific happens in the run hooks
through :class:`regsuite.state.TrainState`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator


def infinite_batches(tensors: dict, batch_size: int, generator, device=None) -> Iterator[dict]:
    """Shuffled minibatches over epochs, forever; the order depends only on ``generator``."""
    import torch

    n = len(next(iter(tensors.values())))
    while True:
        order = torch.randperm(n, generator=generator)
        for start in range(0, n - batch_size + 1, batch_size):
            idx = order[start : start + batch_size]
            batch = {k: v[idx] for k, v in tensors.items()}
            if device is not None and device.type != "cpu":
                batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            yield batch


def classification_metrics(model, x, y, batch_size: int = 1024, n_bins: int = 15, forward=None) -> dict[str, float]:
    """Accuracy, mean cross-entropy and expected calibration error (equal-width bins)."""
    import torch
    import torch.nn.functional as F

    was_training = model.training
    model.eval()
    logits = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            xb = x[start : start + batch_size]
            logits.append((forward(model, {"x": xb}) if forward else model(xb)).float())
    model.train(was_training)
    logits = torch.cat(logits)
    y = y.to(logits.device)
    loss = F.cross_entropy(logits, y).item()
    probs = logits.softmax(-1)
    conf, pred = probs.max(-1)
    correct = (pred == y).float()
    return {"accuracy": correct.mean().item(), "loss": loss, "ece": expected_calibration_error(conf, correct, n_bins)}


def expected_calibration_error(confidence, correct, n_bins: int = 15) -> float:
    """ECE = sum_b |B_b|/n * |acc(B_b) - conf(B_b)| over equal-width confidence bins (Guo et al. 2017)."""
    import torch

    edges = torch.linspace(0, 1, n_bins + 1, device=confidence.device)
    ece = torch.zeros((), device=confidence.device)
    n = len(confidence)
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > lo) & (confidence <= hi)
        if lo == 0:
            in_bin |= confidence == 0
        count = in_bin.sum()
        if count > 0:
            ece += count / n * (correct[in_bin].mean() - confidence[in_bin].mean()).abs()
    return ece.item()


def train_supervised(
    ctx,
    *,
    model,
    batches: Iterator[dict] | Callable[[dict, Any], Iterator[dict]],
    budget,
    forward: Callable[[Any, dict], Any],
    task_loss: Callable[[Any, dict], Any],
    evaluate: Callable[[Any], dict[str, dict[str, float]]],
    batch_size: int,
    diagnostics: tuple[str, ...] = (),
    target=None,
    train: dict | None = None,
    make_model: Callable[[], Any] | None = None,
):
    """Train ``model`` for ``budget.steps`` steps under the run's hooks.

    ``batches`` is the training stream, or, for a task that lets methods choose its training
    data (it provides ``"data_selection"``), a function ``batches(tensors, generator)`` that builds
    the stream over a dict of training tensors; ``train`` is then the whole training set (CPU
    tensors indexed along dimension 0) and ``make_model()`` builds a fresh model. The loop calls
    ``regsuite_select_training_data`` once, before the optimizer exists, and streams only the
    selected examples, shuffled by ``torch.Generator().manual_seed(ctx.seed)``; the selection's
    time and its charged steps and samples count in the run's cost (see :mod:`regsuite.selection`).
    With ``train=``, the class counts of the examples the run trains on are published for the
    methods that require ``"class-prior"`` (see :mod:`regsuite.class_prior`).

    ``evaluate(model)`` returns ``{split: {metric: value}}``; it runs every
    ``budget.eval_every`` steps (logged as curves) and once at the end.
    ``diagnostics`` (see :mod:`regsuite.diagnostics`) are computed after the final
    evaluation on the next training batch and returned as ``final["diagnostics"]``.
    ``target`` (a :class:`regsuite.target.Target` on a flattened ``split_metric`` name such as
    ``val_accuracy``) is checked at every evaluation; its time to target (or censoring) is
    returned as ``final["target"]``, and a target with ``stop_early`` ends training at the
    first evaluation that reaches it (the final evaluation is then taken at that step).
    Returns ``(state, final_evaluation)``.
    """
    state = ctx.new_state(model, budget, forward=forward, task_loss=task_loss)
    batches, selection = _selected_stream(ctx, state, batches, train, make_model, batch_size)
    state.setup_optimizer()
    model.train()
    log_every = max(1, budget.log_every)
    eval_every = budget.eval_every
    from .checkpoint import Checkpointer

    ckpt = Checkpointer.for_run(ctx)  # long tiers: resume from, and save, periodic checkpoints
    start, train_s = ckpt.restore(state, batches) if ckpt else (0, 0.0)
    if not start:  # a restored train_s already holds the selection's time
        train_s += selection.seconds
    offset = selection.steps  # scoring steps and samples come before the run's own
    tracker = _tracker(ctx, target, budget, batch_size, start, selection)
    step, stopped_early, last_eval = start, False, None
    for step in range(start + 1, budget.steps + 1):
        t0 = time.perf_counter()
        loss = state.train_step(next(batches))
        train_s += time.perf_counter() - t0
        if step % log_every == 0 or step == 1 or step == budget.steps:
            value = loss.item()
            ctx.log(step, "train", "loss", value)
            ctx.check_finite(value)
        if eval_every and step % eval_every == 0 and step < budget.steps:
            last_eval = evaluate(model)
            for split, metrics in last_eval.items():
                for name, value in metrics.items():
                    ctx.log(step, split, name, value)
                    if tracker and f"{split}_{name}" == target.metric:
                        tracker.update(value, step=step + offset, samples=step * batch_size + selection.samples,
                                       wall_s=train_s)
            model.train()
            if tracker and tracker.should_stop:
                stopped_early = True
                if step % log_every and step != 1:  # the run's last training loss, logged
                    ctx.log(step, "train", "loss", loss.item())
                break
        if ckpt:
            ckpt.maybe_save(step, state, train_s)
    ctx.counters.update(steps=step + offset, samples=step * batch_size + selection.samples, train_s=train_s)
    # Stopped early: the last evaluation is the final one (the weights did not change since).
    logged = set(last_eval) if stopped_early else set()
    final = dict(last_eval) if stopped_early else evaluate(model)
    if diagnostics:
        from .diagnostics import compute_diagnostics

        batch = next(batches)
        final["diagnostics"] = compute_diagnostics(
            diagnostics, model, lambda m: task_loss(forward(m, batch), batch), seed=ctx.seed
        )
    for split, metrics in final.items():
        for name, value in metrics.items():
            if split not in logged:
                ctx.log(step, split, name, value)
    if tracker:
        split, _, name = target.metric.partition("_")
        if split not in final or name not in final[split]:
            raise ValueError(f"target metric {target.metric!r} is not among the evaluation's metrics")
        tracker.update(final[split][name], step=step + offset, samples=step * batch_size + selection.samples,
                       wall_s=train_s)
        final["target"] = tracker.metrics()
    return state, final


@dataclass(frozen=True)
class _Selection:
    """What the run's data selection cost: seconds, and the scoring steps and samples it charged."""

    seconds: float = 0.0
    steps: int = 0
    samples: int = 0


def _selected_stream(ctx, state, batches, train, make_model, batch_size: int):
    """The run's batch stream, over the examples its data-selection method kept (all without one)."""
    hooks = ctx.hooks
    wants = bool(getattr(hooks, "select_training_data", ()))
    if not callable(batches):
        if wants:
            who = ", ".join(hooks.claimants("regsuite_select_training_data"))
            raise ValueError(
                f"{who} selects training data, but this task passes train_supervised a ready batch stream; "
                "a task that provides 'data_selection' passes train= and batches as a function"
            )
        return batches, _Selection()
    if train is None:
        raise ValueError("train_supervised: batches is a function, so train= (the training tensors) is required")
    import torch

    from . import class_prior
    from .selection import TrainingSet, select_training_data

    if not wants:
        if "y" in train:
            class_prior.publish(state, train["y"])
        return batches(train, torch.Generator().manual_seed(ctx.seed)), _Selection()
    if make_model is None:
        raise ValueError("train_supervised: data selection needs make_model= (a fresh model of the task)")
    import torch._dynamo  # noqa: F401  (the one-off import every first optimizer triggers: not selection cost)

    data = TrainingSet(tensors=train, make_model=lambda: make_model().to(ctx.device), make_batches=batches,
                       batch_size=batch_size)
    indices, seconds = select_training_data(hooks, data, state)
    kept = train if indices is None else data.subset(indices)
    kept_n = len(data) if indices is None else len(indices)
    if "y" in kept:
        class_prior.publish(state, kept["y"])  # the priors of what the run trains on
    ctx.notes["data_selection"] = (f"trained on {kept_n} of {len(data)} training examples; selecting them took "
                                   f"{data.steps} scoring steps ({data.samples} samples)")
    stream = batches(kept, torch.Generator().manual_seed(ctx.seed))
    return stream, _Selection(seconds, data.steps, data.samples)


def _tracker(ctx, target, budget, batch_size: int, start: int, selection):
    """The run's target tracker; after a resume, replayed from the restored validation curves."""
    if target is None:
        return None
    from .target import TargetTracker

    if target.axis == "tokens":
        raise ValueError("train_supervised counts steps, samples and wall_s, not tokens: use another axis")

    axis_budget = {"steps": budget.steps, "samples": budget.steps * batch_size}.get(target.axis)
    tracker = TargetTracker(target, budget=axis_budget)
    for step, wall_s, split, name, value in ctx.curves if start else ():
        if f"{split}_{name}" == target.metric and step <= start:
            tracker.update(value, step=step + selection.steps, samples=step * batch_size + selection.samples,
                           wall_s=wall_s)
    return tracker
