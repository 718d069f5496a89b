"""A small results store for the site tests: two tiers, two suite versions, and a hostile method name.

The standard tier (version 2) holds the cases the pages must show, with values chosen so that every
expected number can be worked out by hand:

* ``suite0/task-big``: adamw 0.75/0.76/0.77 against sgd 0.70/0.71/0.72 (a known significant
  difference: Welch t = 0.05 / sqrt(2 x 0.01^2 / 3) = 6.12 on 4 df, p = 0.0036) and ``tied`` with
  exactly sgd's values (a known tie: p = 1); secondary ``test_ece``, per-domain accuracies under two
  selection methods, time to target with censored seeds, an accuracy matrix, one dirty-tree run;
* ``suite0/task-tuned`` (full tier, so the standard board holds task-big alone): sgd under the
  defaults (lr 0.1) and a tuned protocol (lr 0.05), with its two tuning trials and the selection
  record.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from regsuite import Budget, Citation, Fidelity, LogUniform, Method
from regsuite.claims import Claim
from regsuite.site.synthetic import run_row, write_synthetic
from regsuite.store import Store

EVIL = "<script>alert(1)</script>"


class Sgd(Method):
    """Plain SGD (the baseline of the synthetic tasks).

    Update: w <- w - lr * g.
    """

    name = "sgd"
    fidelity = Fidelity.faithful("paper")
    family = "optimizer"
    citation = Citation("On the importance of initialization and momentum in deep learning",
                        "Ilya Sutskever, James Martens", 2013, "https://proceedings.mlr.press/v28/sutskever13.html")
    defaults = {"lr": 0.1}
    space = {"lr": LogUniform(1e-3, 1.0)}


class Evil(Method):
    """<b>bold</b> claims from a plugin."""

    name = EVIL
    family = "regularizer"
    citation = Citation("<img src=x onerror=alert(3)>", "Mallory", 2024, "javascript:alert(2)")
    defaults = {"lam": 0.5}
    space = {"lam": LogUniform(1e-3, 1.0)}
    claims = (Claim(quote=EVIL, kind="accuracy_delta", value=1.0, setting="<i>nowhere</i>"),)


class Adamw(Method):
    """AdamW (a fixture: its paper's claims are made up for the test)."""

    name = "adamw"
    family = "optimizer"
    defaults = {"lr": 0.001}
    space = {"lr": LogUniform(1e-4, 1e-1)}
    fidelity = Fidelity.adapted("a fixture, not the real method")
    claims = (
        Claim(quote="five points more accurate", kind="accuracy_delta", value=5.0, setting="a made-up setting",
              task="suite0/task-big", versus="sgd"),
        Claim(quote="twice as fast on ImageNet", kind="steps_ratio", value=2.0, setting="ImageNet"),
        Claim(quote="faster where nothing ran", kind="steps_ratio", value=1.5, setting="nowhere",
              task="suite0/task-never"),  # a task without runs: named, never linked
    )


def _standard_rows() -> list[dict]:
    rows = []
    for m, base in [("sgd", 0.70), ("adamw", 0.75), ("tied", 0.70)]:
        for s in range(3):
            r = run_row(f"std-{m}-{s}", "suite0", "suite0/task-big", m, s, base + 0.01 * s, tier="standard",
                        version="2", step_time_ms=2.0 if m == "adamw" else 1.0)
            metrics = {"test_accuracy": base + 0.01 * s, "test_ece": 0.1 + 0.01 * s,
                       "target_censored": 0.0, "target_budget_steps": 100.0}
            steps = {"sgd": [80.0, None, None], "adamw": [40.0, 50.0, None], "tied": [90.0, 95.0, 99.0]}[m][s]
            if steps is None:
                metrics["target_censored"] = 1.0
            else:
                metrics["steps_to_target"] = steps
            for sel in ("trainval", "oracle"):
                a, b = 0.6 + 0.01 * s, 0.8 + 0.01 * s + (0.02 if sel == "oracle" else 0.0)
                metrics.update({f"acc_{sel}@A": a, f"acc_{sel}@B": b, f"test_accuracy_{sel}": (a + b) / 2,
                                f"worst_domain_accuracy_{sel}": min(a, b)})
            r["metrics"] = json.dumps(metrics)
            r["notes"] = json.dumps({"accuracy_matrix": json.dumps([[0.9, 0.0], [0.5, 0.95]])})
            rows.append(r)
    rows[4]["git_sha"] = rows[4]["git_sha"] + "-dirty"  # adamw seed 1
    for protocol, lr in [("default", 0.1), ("tuned:sobol-2", 0.05)]:
        for s in range(2):
            rows.append(run_row(f"tun-{protocol}-{s}", "suite0", "suite0/task-tuned", "sgd", s, 0.8 + lr + 0.01 * s,
                                tier="full", version="2", protocol=protocol, hparams={"sgd": {"lr": lr}}))
    return rows


def _write_tuning(root: Path) -> None:
    trials = []
    for i, (lr, val, test) in enumerate([(0.2, 0.6, 0.65), (0.05, 0.7, 0.72)]):
        r = run_row(f"trial-{i}", "suite0", "suite0/task-tuned", "sgd", 10_000, test, tier="full", version="2",
                    protocol="tuning-trial", hparams={"sgd": {"lr": lr}})
        r["metrics"] = json.dumps({"test_accuracy": test, "val_accuracy": val})
        trials.append(r)
    Store(root / "tuning").append(trials, [])
    record = {"task": "suite0/task-tuned", "method": "sgd", "protocol": "tuned:sobol-2", "trials": 2,
              "validation_metric": "val_accuracy", "space": {"sgd.lr": "log-uniform [0.01, 1]"},
              "selected": {"run_id": "trial-1", "hparams": {"sgd": {"lr": 0.05}}, "val_accuracy": 0.7}}
    folder = root / "tuning" / "selections"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "suite0_task-tuned__sgd__tuned_sobol-2.json").write_text(json.dumps(record))


def write_results(root) -> None:
    write_synthetic(root, n_runs=18, suites=1, tasks_per_suite=2, seeds=3, curve_points=5,
                    methods=["sgd", "adamw", EVIL], chunk=100)
    rows = _standard_rows()
    curves = [{"run_id": r["run_id"], "step": step, "wall_s": 0.1, "split": "val", "metric": "test_accuracy",
               "value": r["primary_value"] * step / 30} for r in rows for step in (10, 20, 30)]
    Store(root).append(rows, curves)
    _write_tuning(Path(root))


def registry():
    """Just what the site reads from a registry: methods, their plugins, tasks and suites."""
    task = SimpleNamespace(baseline="sgd", description="A synthetic task.", secondary=(), validation=None,
                           budget=Budget(steps=100), target=None)
    big = SimpleNamespace(**{**vars(task), "secondary": ("test_ece",)})
    tuned = SimpleNamespace(**{**vars(task), "validation": SimpleNamespace(name="val_accuracy", direction="max"),
                               "primary": SimpleNamespace(name="test_accuracy", direction="max")})
    big.primary = tuned.primary
    return SimpleNamespace(
        methods={"sgd": Sgd, EVIL: Evil, "adamw": Adamw},
        method_plugin={"sgd": "optimizers", EVIL: "evil_plugin", "adamw": "optimizers"},
        tasks={"suite0/task-00": task, "suite0/task-01": task, "suite0/task-big": big, "suite0/task-tuned": tuned},
        suites={"suite0": SimpleNamespace(description="<i>Synthetic</i> suite.")},
    )
