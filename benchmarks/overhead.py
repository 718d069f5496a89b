"""regsuite's whole-process overhead over a bare PyTorch script doing the same training and evaluation.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/overhead.py [--pairs 7] [--before PYTHONPATH] [--instructions ROUNDS]

One side is ``regsuite bench --task digits-mlp --method adamw --seeds 1 --threads 1 --quiet`` into a fresh
results directory (so nothing is cached); the other is :data:`BARE`, a stand-alone script with the same data
split, model, initialisation, optimizer, batches, logging and evaluations (accuracy, loss and ECE on val and
test every 100 steps and at the end) and nothing else: no plugin registry, no store, no provenance. Both run
as fresh processes, alternating (regsuite first in odd pairs, second in even ones), and each is measured as
CPU time (user + sys of the child, from ``getrusage``), which a shared machine distorts far less than wall
time. The figure is the median over pairs of regsuite's CPU / the bare script's. Target: <= 1.03.

The bare script prints its test accuracy; the benchmark checks that regsuite stored the same value (bit for
bit on CPU), so the two did the same work. What regsuite adds beyond that is imports (pluggy, click,
pandas and pyarrow for the store, the built-in plugins), the registry, the run id, the store's files, its
provenance, and the end-of-run diagnostics the task asks for (digits-mlp: Hessian top eigenvalue and trace,
gradient and weight norms): their share is timed separately, in process.

``--instructions`` counts, instead, the instructions each side executes (valgrind's cachegrind without its
cache simulation, children traced, ``PYTHONHASHSEED=0``): a count that the machine's load does not move,
where CPU time on this shared VM moves by a tenth from one run to the next, so one run of each side is the
figure, and a second run of each shows how far it repeats. About 40x slower (some 3 minutes a side here).
It counts work, not time: an instruction that misses the cache costs more than one that hits.

``--before DIR`` measures a third side in the same rotation: the same bench with ``PYTHONPATH=DIR``, a tree
holding an earlier regsuite as an importable ``regsuite`` package (``git archive REV core plugins suites site``,
then ``core`` renamed ``regsuite`` with the other three moved inside it), so a change is measured before and
after under the same load rather than in two runs minutes apart.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE = r'''
import sys
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits

torch.set_num_threads(1)
seed = 0
np.random.seed(seed)
torch.manual_seed(seed)
bunch = load_digits()
x = (bunch.data.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
y = bunch.target.astype(np.int64)
order = np.random.RandomState(0).permutation(len(x))  # 20% test, 10% of the rest validation
n_test = int(round(len(x) * 0.2))
n_val = int(round((len(x) - n_test) * 0.1))
tr, va, te = order[n_test + n_val:], order[n_test:n_test + n_val], order[:n_test]
x_tr, y_tr = torch.from_numpy(x[tr]), torch.from_numpy(y[tr])
evals = {"val": (torch.from_numpy(x[va]), torch.from_numpy(y[va])),
         "test": (torch.from_numpy(x[te]), torch.from_numpy(y[te]))}
model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
gen = torch.Generator().manual_seed(seed)


def batches(bs=64):
    while True:
        perm = torch.randperm(len(y_tr), generator=gen)
        for s in range(0, len(perm) - bs + 1, bs):
            idx = perm[s:s + bs]
            yield x_tr[idx], y_tr[idx]


def evaluate():
    model.eval()
    out = {}
    with torch.no_grad():
        for k, (xe, ye) in evals.items():
            logits = model(xe).float()
            loss = F.cross_entropy(logits, ye).item()
            conf, pred = logits.softmax(-1).max(-1)
            correct = (pred == ye).float()
            ece = 0.0  # 15 equal-width bins
            edges = torch.linspace(0, 1, 16)
            for lo, hi in zip(edges[:-1], edges[1:]):
                inside = (conf > lo) & (conf <= hi)
                if inside.any():
                    ece += inside.float().mean().item() * abs(correct[inside].mean().item() - conf[inside].mean().item())
            out[k] = (correct.mean().item(), loss, ece)
    model.train()
    return out


it = batches()
model.train()
for step in range(1, 401):
    xb, yb = next(it)
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(xb), yb)
    loss.backward()
    opt.step()
    if step % 20 == 0 or step == 1 or step == 400:
        loss.item()
    if step % 100 == 0 and step < 400:
        evaluate()
print(repr(evaluate()["test"][0]))
'''


def child_cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def measure(cmd: list[str], env: dict) -> tuple[float, float, str]:
    """CPU and wall seconds of one fresh process; its stdout."""
    t0, c0 = time.perf_counter(), child_cpu()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    wall, cpu = time.perf_counter() - t0, child_cpu() - c0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:6])} ... failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return cpu, wall, proc.stdout


def instructions(cmd: list[str], env: dict, out_dir: Path) -> tuple[int, str]:
    """Instructions the process and its children execute (cachegrind's ``I refs``), and its stdout."""
    import shutil

    if shutil.which("valgrind") is None:
        raise SystemExit("error: --instructions needs valgrind on PATH")
    out_dir.mkdir(parents=True, exist_ok=True)
    probe = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--trace-children=yes",
             f"--cachegrind-out-file={out_dir}/cg.%p", *cmd]
    proc = subprocess.run(probe, capture_output=True, text=True, env=dict(env, PYTHONHASHSEED="0"), timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:6])} ... failed under valgrind ({proc.returncode}):\n{proc.stderr[-2000:]}")
    total = 0
    for path in out_dir.glob("cg.*"):
        for line in path.read_text().splitlines():
            if line.startswith("summary:"):
                total += int(line.split()[1])
    return total, proc.stdout


def count_instructions(plain: list[str], ours, env: dict, tmp: Path, rounds: int) -> None:
    counts_plain, counts_ours, acc = [], [], {}
    for i in range(rounds):
        n, out = instructions(plain, env, tmp / f"cg-plain{i}")
        counts_plain.append(n)
        acc["plain"] = float(out.strip())
        n, _ = instructions(ours(100 + i), env, tmp / f"cg-ours{i}")
        counts_ours.append(n)
    from regsuite.store import Store

    acc["ours"] = json.loads(Store(tmp / "out100").runs().iloc[0]["metrics"])["test_accuracy"]
    print(f"digits-mlp, adamw, 400 steps, 1 thread; instructions (cachegrind), {rounds} run(s) a side")
    print(f"test accuracy: regsuite {acc['ours']!r}, bare script {acc['plain']!r} "
          f"({'identical' if acc['ours'] == acc['plain'] else 'DIFFERENT: not the same work'})")
    print(f"bare PyTorch script: {', '.join(f'{n:,}' for n in counts_plain)} instructions")
    print(f"regsuite bench:      {', '.join(f'{n:,}' for n in counts_ours)} instructions")
    ratios = [o / p for o, p in zip(counts_ours, counts_plain)]
    verdict = "met" if max(ratios) <= 1.03 else "not met" if min(ratios) > 1.03 else "not shown"
    print(f"ratio: {', '.join(f'{r:.4f}' for r in ratios)}  (target <= 1.03: {verdict}); regsuite's extra: "
          f"{', '.join(f'{o - p:,}' for o, p in zip(counts_ours, counts_plain))} instructions")


def diagnostics_cpu() -> float:
    """CPU seconds of digits-mlp's end-of-run diagnostics alone (in process, after a warm-up)."""
    import torch

    from regsuite.diagnostics import compute_diagnostics
    from regsuite.registry import build_registry
    from regsuite.suites.vision import models

    torch.set_num_threads(1)
    task = build_registry().tasks["vision/digits-mlp"]
    torch.manual_seed(0)
    model = models.mlp()
    xb, yb = torch.rand(64, 1, 8, 8), torch.randint(0, 10, (64,))
    loss = lambda m: torch.nn.functional.cross_entropy(m(xb), yb)  # noqa: E731
    compute_diagnostics(task.diagnostics, model, loss, seed=0)
    c0 = time.process_time()
    compute_diagnostics(task.diagnostics, model, loss, seed=0)
    return time.process_time() - c0


def median_interval(values: list[float], resamples: int = 4000, seed: int = 0) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the median: how far one run's median may sit from another's."""
    import random

    rng = random.Random(seed)
    meds = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(resamples))
    return meds[int(0.025 * resamples)], meds[int(0.975 * resamples) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=7)
    parser.add_argument("--instructions", type=int, default=0, metavar="ROUNDS",
                        help="count instructions under valgrind instead (ROUNDS runs a side)")
    parser.add_argument("--before", metavar="PYTHONPATH", default=None,
                        help="also measure the bench of an earlier regsuite importable from this directory")
    args = parser.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # users import from __pycache__
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare_digits_mlp.py"
        bare.write_text(BARE)
        plain = [sys.executable, str(bare)]

        def ours(i: int) -> list[str]:
            return [sys.executable, "-c", "from regsuite.cli import main; main()", "bench", "--task", "digits-mlp",
                    "--method", "adamw", "--seeds", "1", "--threads", "1", "--quiet", "--out", f"{tmp}/out{i}"]

        if args.instructions:
            measure(ours(-1), env)  # __pycache__ written, as a user's would be
            count_instructions(plain, ours, env, Path(tmp), args.instructions)
            return
        old_env = dict(env, PYTHONPATH=args.before) if args.before else None
        measure(plain, env), measure(ours(-1), env)  # warm-up: __pycache__, page cache
        if old_env:
            measure(ours(-2), old_env)
        ratios, cpu_ours, cpu_plain, wall_ours, wall_plain = [], [], [], [], []
        old_ratios, cpu_old = [], []
        acc_plain = None
        sides = (0, 1, 2) if old_env else (0, 1)
        for i in range(args.pairs):
            # Alternate the order: each side goes first, in the middle and last equally often.
            order = sides[i % len(sides):] + sides[:i % len(sides)] if old_env else sides[::1 if i % 2 == 0 else -1]
            for side in order:
                if side == 0:
                    c, w, _ = measure(ours(i), env)
                    cpu_ours.append(c), wall_ours.append(w)
                elif side == 1:
                    c, w, out = measure(plain, env)
                    cpu_plain.append(c), wall_plain.append(w)
                    acc_plain = float(out.strip())
                else:
                    c, _, _ = measure(ours(1000 + i), old_env)
                    cpu_old.append(c)
            ratios.append(cpu_ours[-1] / cpu_plain[-1])
            if old_env:
                old_ratios.append(cpu_old[-1] / cpu_plain[-1])
        from regsuite.store import Store

        row = Store(Path(tmp) / "out0").runs().iloc[0]
        acc_ours = json.loads(row["metrics"])["test_accuracy"]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"digits-mlp, adamw, 400 steps, 1 thread; {args.pairs} alternating pairs; load average {load}")
    print(f"test accuracy: regsuite {acc_ours!r}, bare script {acc_plain!r} "
          f"({'identical' if acc_ours == acc_plain else 'DIFFERENT: not the same work'})")
    print(f"bare PyTorch script: median {statistics.median(cpu_plain):.3f} s CPU ({statistics.median(wall_plain):.2f} s wall)")
    print(f"regsuite bench:      median {statistics.median(cpu_ours):.3f} s CPU ({statistics.median(wall_ours):.2f} s wall)")
    print(f"of which the task's end-of-run diagnostics: {diagnostics_cpu():.3f} s CPU")
    lo, hi = median_interval(ratios)
    verdict = "met" if hi <= 1.03 else "not met" if lo > 1.03 else "not shown (the interval straddles 1.03)"
    print(f"ratio (median of the pairs' CPU ratios): {statistics.median(ratios):.3f}, 95% bootstrap interval "
          f"{lo:.3f}-{hi:.3f}  (target <= 1.03: {verdict}); pairs: {', '.join(f'{r:.3f}' for r in ratios)}")
    if old_env:
        print(f"before ({args.before}): median {statistics.median(cpu_old):.3f} s CPU, ratio "
              f"{statistics.median(old_ratios):.3f}; pairs: {', '.join(f'{r:.3f}' for r in old_ratios)}")


if __name__ == "__main__":
    main()
