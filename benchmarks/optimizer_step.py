"""Step time and optimizer-state memory of every optimizer method, relative to AdamW.

One task's model and data (vision/digits-mlp by default: the MLP 64-128-10 on
8x8 digits, batch 64). For each optimizer: build it through its method's
``regsuite_configure_optimizer`` with default hyperparameters, take ``--warmup``
steps, then time ``--steps`` full training steps (zero_grad, forward, backward,
optimizer step) and report the median. State memory counts the tensors held
in the optimizer's state (wrapped optimizers included), the figure that
differs between optimizers; parameters and gradients are the same for all.

    .venv/bin/python benchmarks/optimizer_step.py [--task digits-cnn] [--steps 100] [--threads 1]

Prints a Markdown table (the figures in docs/performance.md come from it).
"""

from __future__ import annotations

import argparse
import statistics
import time


def optimizer_methods():
    from regsuite.plugins import optimizers, optimizers_own

    own = list(optimizers_own.regsuite_methods())
    return [*optimizers.OPTIMIZERS, *own]


def state_bytes(opt, seen=None) -> int:
    """Bytes of tensors in ``opt.state``, following wrappers (Lookahead, SPECTRA, Muon's pair)."""
    import torch

    seen = set() if seen is None else seen
    if id(opt) in seen:
        return 0
    seen.add(id(opt))
    total = 0
    for inner in [getattr(opt, "optimizer", None), getattr(opt, "base", None), *getattr(opt, "optimizers", [])]:
        if isinstance(inner, torch.optim.Optimizer):
            total += state_bytes(inner, seen)
    tensors = {}

    def collect(value):  # SOAP and Kron keep their factors in lists
        if torch.is_tensor(value):
            tensors[id(value)] = value.numel() * value.element_size()
        elif isinstance(value, (list, tuple)):
            for v in value:
                collect(v)
        elif isinstance(value, dict):
            for v in value.values():
                collect(v)

    for entry in opt.state.values():
        if isinstance(entry, dict):
            collect(entry)
    return total + sum(tensors.values())


def measure(cls, task, steps: int, warmup: int):
    import torch
    import torch.nn.functional as F

    from regsuite import Budget

    torch.manual_seed(0)
    model = task.make_model()
    x, y = (torch.from_numpy(a) for a in task.splits(None)["train"])
    gen = torch.Generator().manual_seed(0)
    method = cls()
    if hasattr(method, "regsuite_run_start"):
        method.regsuite_run_start(model, type("S", (), {"seed": 0})())
    opt = method.regsuite_configure_optimizer(model, Budget(steps=warmup + steps))
    times = []
    for i in range(warmup + steps):
        idx = torch.randint(len(x), (task.batch_size,), generator=gen)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3, state_bytes(opt) / 2**20


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="digits-mlp", help="a vision smoke task (default: digits-mlp)")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1: stabler timings)")
    args = parser.parse_args(argv)

    import torch

    from regsuite.suites.vision import tasks

    torch.set_num_threads(args.threads)
    task = next(t() for t in tasks.ALL if t.name == args.task)
    rows = []
    for cls in optimizer_methods():
        rows.append((cls.name, *measure(cls, task, args.steps, args.warmup)))
        print(f"  measured {rows[-1][0]}: {rows[-1][1]:.2f} ms, {rows[-1][2]:.3f} MB", flush=True)
    base_ms, base_mb = next((ms, mb) for name, ms, mb in rows if name == "adamw")
    n_params = sum(p.numel() for p in task.make_model().parameters())
    print(f"task vision/{task.name} ({n_params:,} parameters, batch {task.batch_size}), torch {torch.__version__}, "
          f"{args.threads} thread(s), median of {args.steps} steps after {args.warmup}")
    print("\n| optimizer | step ms | x adamw | state MB | x adamw |\n|---|---:|---:|---:|---:|")
    for name, ms, mb in sorted(rows, key=lambda r: r[1]):
        print(f"| {name} | {ms:.2f} | {ms / base_ms:.2f} | {mb:.3f} | {mb / base_mb:.2f} |")


if __name__ == "__main__":
    main()
