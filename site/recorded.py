"""What each task records beyond its primary metric, as tables (and one heatmap) for the task page.

Per board (tier, suite version, protocol), from the ``ok`` runs only:

* **secondary metrics** (the task's declared ones, else every flat metric recorded): mean ± 95% CI
  over seeds: vision's ECE, continual forgetting and BWT, llm tokens per second, ...;
* **time to target** where runs tracked one (``target_censored`` recorded): per method the seeds
  that reached it, and the median over seeds with censored seeds counted as never reaching it
  (:func:`regsuite.target.median_time_to_target`); "not reached in N steps" when the median is
  censored, never the budget as if it were a time;
* **per-domain tables**, from metrics named ``acc_<selection>@<domain>`` (domain generalization):
  one table per model-selection method, a column per held-out domain, then the average and the
  worst domain;
* **accuracy matrix** (``notes["accuracy_matrix"]``, continual learning: row = after training on
  experience i, column = accuracy on experience j; T + 1 rows when the first is the untrained
  model), averaged over seeds, for a heatmap.
"""

from __future__ import annotations

import json
import math

import pandas as pd

from regsuite.stats import t_interval
from regsuite.target import AXES, CENSORED, budget_key, median_time_to_target, to_target_key

SELECTION_TITLES = {"trainval": "training-domain validation", "lodo": "leave-one-domain-out",
                    "oracle": "test-domain oracle"}
TARGET_WORDS = {"steps": "steps", "samples": "samples", "tokens": "tokens", "wall_s": "s"}


def _metrics(blob) -> dict:
    try:
        m = json.loads(blob) if blob else {}
    except (TypeError, ValueError):
        return {}
    return {k: float(v) for k, v in m.items() if isinstance(v, (int, float)) and not isinstance(v, bool)} \
        if isinstance(m, dict) else {}


def mean_ci(values) -> dict:
    mean, ci, n = t_interval([v for v in values if v is not None and math.isfinite(v)])
    return {"mean": mean, "ci": ci, "n": n}


def _amount(value: float, axis: str) -> str:
    return f"{value:,.1f} s" if axis == "wall_s" else f"{value:,.0f} {TARGET_WORDS[axis]}"


def _censored(m: dict) -> float | None:
    """1.0 when the run never reached its target; older runs stored ``target_reached`` instead."""
    if CENSORED in m:
        return m[CENSORED]
    return 1.0 - m["target_reached"] if "target_reached" in m else None


def time_to_target_rows(per_method: dict[str, list[dict]]) -> list[dict]:
    """One row per method and axis recorded: reached k/n and the censoring-aware median."""
    rows = []
    for method, ms in per_method.items():
        tracked = [m for m in ms if _censored(m) is not None]
        if not tracked:
            continue
        for axis in AXES:
            key = to_target_key(axis)
            if not any(key in m for m in tracked) and not any(budget_key(axis) in m for m in tracked):
                continue
            values = [None if _censored(m) == 1.0 or key not in m else m[key] for m in tracked]
            median = median_time_to_target(values)
            budgets = sorted({m[budget_key(axis)] for m in tracked if budget_key(axis) in m})
            if median is not None:
                text = _amount(median, axis)
            elif budgets:
                text = f"not reached in {_amount(budgets[-1], axis)}"
            else:
                text = "not reached"
            reached = sum(v is not None for v in values)
            rows.append({"method": method, "axis": axis, "reached": reached, "n": len(values), "median": median,
                         "text": text})
    return rows


def domain_tables(per_method: dict[str, list[dict]]) -> list[dict]:
    """``[{selection, title, domains, rows: [{method, cells: [mean_ci], avg, worst}]}]``."""
    found: dict[str, list[str]] = {}
    for ms in per_method.values():
        for m in ms:
            for key in m:
                if key.startswith("acc_") and "@" in key:
                    sel, domain = key[4:].split("@", 1)
                    if domain not in found.setdefault(sel, []):
                        found[sel].append(domain)
    order = [s for s in SELECTION_TITLES if s in found] + sorted(s for s in found if s not in SELECTION_TITLES)
    tables = []
    for sel in order:
        rows = []
        for method, ms in per_method.items():
            rows.append({
                "method": method,
                "cells": [mean_ci([m.get(f"acc_{sel}@{d}") for m in ms]) for d in found[sel]],
                "avg": mean_ci([m.get(f"test_accuracy_{sel}") for m in ms]),
                "worst": mean_ci([m.get(f"worst_domain_accuracy_{sel}") for m in ms]),
            })
        rows.sort(key=lambda r: (-(r["avg"]["mean"] if not math.isnan(r["avg"]["mean"]) else -math.inf),
                                 r["method"]))
        tables.append({"selection": sel, "title": SELECTION_TITLES.get(sel, sel), "domains": found[sel],
                       "rows": rows})
    return tables


def accuracy_matrices(notes: dict[str, list]) -> list[dict]:
    """Per method (``{method: [notes JSON of each seed]}``) the seed-mean accuracy matrix (square, the
    same size in every seed), else nothing."""
    out = []
    for method, blobs in notes.items():
        mats = []
        for blob in blobs:
            if not isinstance(blob, str) or "accuracy_matrix" not in blob:
                continue
            try:
                mat = json.loads(json.loads(blob).get("accuracy_matrix", "null")) if blob else None
            except (TypeError, ValueError, AttributeError):
                mat = None
            if (isinstance(mat, list) and mat and isinstance(mat[0], list) and mat[0]
                    and all(isinstance(r, list) and len(r) == len(mat[0]) for r in mat)):
                mats.append(mat)
        if not mats or len({(len(m), len(m[0])) for m in mats}) != 1:
            continue
        rows, cols = len(mats[0]), len(mats[0][0])
        mean = [[sum(float(m[i][j]) for m in mats) / len(mats) for j in range(cols)] for i in range(rows)]
        # T + 1 rows for T experiences: the first row is the model before any training.
        labels = (["before"] if rows == cols + 1 else []) + [str(i + 1) for i in range(min(rows, cols))]
        out.append({"method": method, "n": len(mats), "matrix": [[round(v, 4) for v in row] for row in mean],
                    "rows": labels if len(labels) == rows else [str(i + 1) for i in range(rows)],
                    "cols": [str(j + 1) for j in range(cols)]})
    return out


def recorded(runs: pd.DataFrame, primary: str, declared: list[str] | None = None) -> list[dict]:
    """Per board of ``runs`` (one task): secondary metrics, time to target, domains, matrices."""
    ok = runs[runs["status"] == "ok"]
    # One pass in plain Python: (board) -> method -> the seeds' metrics and notes.
    groups: dict[tuple, dict[str, list]] = {}
    notes: dict[tuple, dict[str, list]] = {}
    cols = ["tier", "suite_version", "protocol", "method", "metrics", "notes"]
    for tier, version, protocol, method, blob, note in sorted(zip(*(ok[c].tolist() for c in cols)),
                                                               key=lambda r: r[:4]):
        groups.setdefault((tier, version, protocol), {}).setdefault(method, []).append(_metrics(blob))
        notes.setdefault((tier, version, protocol), {}).setdefault(method, []).append(note)
    boards = []
    for (tier, version, protocol), per_method in groups.items():
        seen = sorted({k for ms in per_method.values() for m in ms for k in m})
        flat = [k for k in seen if "@" not in k and k != primary and not k.startswith("target_")
                and not k.endswith("_to_target")]
        names = [k for k in (declared or []) if k in seen and not k.endswith("_to_target")] or flat
        secondary = [{"method": method, "cells": [mean_ci([m.get(k) for m in ms]) for k in names]}
                     for method, ms in per_method.items()]
        boards.append({
            "tier": tier, "version": version, "protocol": protocol,
            "metrics": names, "secondary": secondary if names else [],
            "target": time_to_target_rows(per_method),
            "domains": domain_tables(per_method),
            "matrices": accuracy_matrices(notes[(tier, version, protocol)]),
        })
    return boards
