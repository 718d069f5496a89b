"""The language-model training loop: next-token cross-entropy under the run's hooks, at a fixed token budget.

The step itself is :meth:`regsuite.state.TrainState.train_step` (batch
transforms, a method's own step or forward/loss/penalties/backward/gradient
transforms/optimizer step, in the hook order of ``regsuite.hookspec``). Around
it this loop adds what LM benchmarks report: validation loss on fixed windows,
tokens-to-target, steady-state tokens/s and MFU, and instability signals (loss
spikes, the largest gradient norm, attention logits, output-logit norms).
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from typing import Any

from regsuite.state import TrainState

# Steps excluded from tokens/s (compilation, allocator and kernel warm-up).
WARMUP_STEPS = 10


@dataclass
class LMState(TrainState):
    """TrainState that also records the norm of the gradient the optimizer applies, once per step
    (before gradient transforms such as clipping, so a clipped spike still shows). Recorded in
    ``transform_gradients``, which every step procedure calls exactly once (the step contract)."""

    max_grad_norm: Any = None

    def transform_gradients(self) -> None:
        import torch

        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        if grads:
            norm = torch.nn.utils.get_total_norm(grads).detach()
            self.max_grad_norm = norm if self.max_grad_norm is None else torch.maximum(self.max_grad_norm, norm)
        super().transform_gradients()


def count_spikes(losses, window: int = 20, rel: float = 0.2) -> int:
    """Loss-spike events: runs of steps whose training loss exceeds (1 + rel) times the
    median of the ``window`` steps before it. Consecutive spiking steps count once."""
    import statistics

    events, inside = 0, False
    for t in range(window, len(losses)):
        spike = losses[t] > (1 + rel) * statistics.median(losses[t - window : t])
        events += spike and not inside
        inside = spike
    return events


def _autocast(device, bf16: bool):
    import torch

    return torch.autocast("cuda", dtype=torch.bfloat16) if bf16 and device.type == "cuda" else contextlib.nullcontext()


def _sync(device) -> None:
    if device.type == "cuda":
        import torch

        torch.cuda.synchronize(device)


def _axis_budget(task) -> float | None:
    """The run's budget on its target's axis (the censoring point); None for wall seconds."""
    per_step = {"steps": 1, "samples": task.batch_size, "tokens": task.batch_size * task.seq_len}
    axis = task.target.axis
    return float(task.budget.steps * per_step[axis]) if axis in per_step else None


def train_lm(ctx, task) -> dict[str, float]:
    """Train ``task``'s GPT on ``task.load(ctx)`` for ``task.budget.steps`` steps; return final metrics."""
    import torch
    import torch.nn.functional as F

    from regsuite.target import TargetTracker

    from . import ddp, flops
    from .model import GPT
    from .tokens import train_batches, val_windows, window_batches

    info = ddp.setup(ctx.device)
    device, budget, seq = info.device, task.budget, task.seq_len
    if task.batch_size % info.world:
        raise ValueError(f"batch size {task.batch_size} does not split over {info.world} processes")
    local_batch = task.batch_size // info.world
    data = task.load(ctx)
    model = GPT(task.model_config(data.vocab_size)).to(device)
    vocab = model.cfg.vocab_size
    bf16 = ctx.options.get("precision") == "bf16" and device.type == "cuda"
    ctx.notes.update(
        corpus_fingerprint=data.fingerprint, corpus=data.description, params=model.num_params(),
        precision="bf16" if bf16 else "fp32", world_size=info.world,
    )
    trained = ddp.wrap(model, info)
    if ctx.options.get("compile"):
        trained = torch.compile(trained)

    def forward(_model, batch):
        with _autocast(device, bf16):
            return trained(batch["x"])

    def task_loss(logits, batch):
        return F.cross_entropy(logits.float().view(-1, vocab), batch["y"].view(-1))

    state = LMState(model=model, hooks=ctx.hooks, ctx=ctx, budget=budget, forward=forward,
                    task_loss=task_loss, device=device)
    state.setup_optimizer()

    windows = val_windows(data, task.val_windows, seq)
    probe = torch.from_numpy(windows[: task.probe_windows, :-1]).to(device)
    mine = windows[info.rank :: info.world]

    def evaluate() -> dict[str, float]:
        model.eval()
        total = torch.zeros(2, device=device, dtype=torch.float64)
        with torch.no_grad(), _autocast(device, bf16):
            for b in window_batches(mine, task.eval_batch, device):
                logits = model(b["x"]).float()
                total[0] += F.cross_entropy(logits.view(-1, vocab), b["y"].view(-1), reduction="sum").double()
                total[1] += b["y"].numel()
            ddp.all_reduce_sum(total, info)
            out = {"loss": (total[0] / total[1]).item(), **model.diagnostics(probe)}
        model.train()
        return out

    generator = torch.Generator().manual_seed(ctx.seed + 1_000_003 * info.rank)
    batches = train_batches(data, local_batch, seq, generator, device)
    tokens_per_step = task.batch_size * seq
    tracker = TargetTracker(task.target, budget=_axis_budget(task)) if task.target else None
    if tracker and task.target.metric != "val_loss":
        raise ValueError(f"an LLM task's target is on val_loss, not {task.target.metric!r}")
    losses = torch.zeros(budget.steps, device=device)
    evals: list[tuple[int, dict]] = []
    warmup = min(WARMUP_STEPS, budget.steps // 10)
    train_s, warm_s = 0.0, 0.0
    model.train()
    t0 = time.perf_counter()
    for step in range(1, budget.steps + 1):
        ctx.counters["steps"] = step
        loss = state.train_step(next(batches))
        losses[step - 1] = loss.detach().float()
        if step == warmup:
            _sync(device)
            warm_s = train_s + time.perf_counter() - t0
        if step % budget.log_every == 0 or step == 1 or step == budget.steps:
            value = loss.item()
            ctx.log(step, "train", "loss", value)
            ctx.check_finite(value)
        if step == budget.steps or (budget.eval_every and step % budget.eval_every == 0):
            _sync(device)
            train_s += time.perf_counter() - t0
            result = evaluate()
            ctx.check_finite(result["loss"], "validation loss")
            for name, value in result.items():
                ctx.log(step, "val", name, value)
            evals.append((step, result))
            if tracker:
                tracker.update(result["loss"], step=step, samples=step * task.batch_size,
                               tokens=step * tokens_per_step, wall_s=train_s)  # training seconds, evaluations excluded
            t0 = time.perf_counter()

    steps = budget.steps
    ctx.counters.update(steps=steps, samples=steps * task.batch_size, tokens=steps * tokens_per_step, train_s=train_s)
    final = evals[-1][1]
    history = losses.cpu().tolist()
    tail = history[-min(10, steps):]
    steady_s = train_s - warm_s
    tokens_per_s = (steps - warmup) * tokens_per_step / steady_s if steady_s > 0 else float("nan")
    metrics = {
        "val_loss": final["loss"],
        "train_loss": sum(tail) / len(tail),
        "tokens_per_s": tokens_per_s,
        "loss_spikes": float(count_spikes(history)),
        "max_grad_norm": state.max_grad_norm.item() if state.max_grad_norm is not None else float("nan"),
        "max_attn_logit": max(r["max_attn_logit"] for _, r in evals),
        "output_logit_norm": final["output_logit_norm"],
    }
    if tracker:
        metrics.update(tracker.metrics())
    if device.type == "cuda":
        peak = flops.peak_flops(torch.cuda.get_device_name(device))
        if peak and math.isfinite(tokens_per_s):
            metrics["mfu"] = flops.mfu(tokens_per_s / info.world, flops.model_flops_per_token(model), peak)
    if info.world > 1:
        metrics["replica_divergence"] = ddp.max_param_divergence(model, info)
    metrics.update(state.finish())
    return metrics
