"""Score against tuning budget: what a user who can afford k trials gets, for k = 1..K.

From the trials the tuned track already ran (protocol ``tuning-trial``, one tuning seed), for
each (task, tier, method): the expected test score of the trial that a random k of the K trials
would select on validation (:func:`regsuite.stats.expected_best_of_k`, exact over subsets, no
resampling), and the same for the validation score itself. A method whose curve is flat is
insensitive to tuning; one that only wins at k = K needs its full budget to win.
"""

from __future__ import annotations

import math

import pandas as pd

from .stats import expected_best_of_k

COLUMNS = ["suite", "task", "tier", "method", "k", "trials", "expected_test", "expected_validation",
           "metric", "validation_metric", "direction"]


def budget_curves(trials: pd.DataFrame, tasks: dict) -> pd.DataFrame:
    """One row per (task, tier, method, k). ``tasks`` maps a task key to its Task (for metric names).

    Trials that did not finish ok count as the worst possible validation score (a user who drew
    that configuration got nothing from it) and are never selected while any trial finished.
    """
    from .store import metrics_of

    if trials is None or not len(trials):
        return pd.DataFrame(columns=COLUMNS)
    rows = []
    for (suite, task_key, tier, method), part in trials.groupby(["suite", "task", "tier", "method"], sort=True):
        task = tasks.get(task_key)
        if task is None or task.validation is None:
            continue
        vdir = task.validation.direction
        worst = -math.inf if vdir == "max" else math.inf
        sel, test, val = [], [], []
        for row in part.sort_values("run_id").to_dict("records"):
            metrics = metrics_of(row) if row["status"] == "ok" else {}
            v = metrics.get(task.validation.name)
            t = metrics.get(task.primary.name)
            ok = v is not None and t is not None and math.isfinite(float(v)) and math.isfinite(float(t))
            sel.append(float(v) if ok else worst)
            test.append(float(t) if ok else math.nan)
            val.append(float(v) if ok else math.nan)
        K = len(sel)
        for k in range(1, K + 1):
            rows.append({
                "suite": suite, "task": task_key, "tier": tier, "method": method, "k": k, "trials": K,
                "expected_test": _nan_safe(sel, test, k, vdir),
                "expected_validation": _nan_safe(sel, val, k, vdir),
                "metric": task.primary.name, "validation_metric": task.validation.name,
                "direction": task.primary.direction,
            })
    return pd.DataFrame(rows, columns=COLUMNS)


def _nan_safe(sel, reported, k, direction) -> float:
    """Expected best-of-k; NaN when some k-subset holds only failed trials (nothing to report)."""
    n_failed = sum(1 for r in reported if math.isnan(r))
    if n_failed >= k:  # some k-subset may consist of failures only
        return math.nan
    # Failed trials sit at the bottom of the selection order, so with fewer than k of them they
    # carry zero weight; 0.0 stands in for their NaN (0 * NaN would poison the sum).
    return expected_best_of_k(sel, [0.0 if math.isnan(r) else r for r in reported], k, direction)
