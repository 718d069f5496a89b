"""Per-suite aggregates over tasks, bounded so that no single task dominates.

Computed from the per-task aggregate (:func:`regsuite.scoring.aggregate`) of one suite board
(suite version, tier, protocol); reference rows are left out of every aggregate.

* **Performance ratio** of method m on task t (AlgoPerf-style): its distance from the best ranked
  method's mean, as a ratio >= 1. For a ``min`` metric (loss, L2-UVP, steps to target) it is
  ``mean / best``; for a ``max`` metric bounded in [0, 1] (accuracies) it is the ratio of errors
  ``(1 - mean) / (1 - best)``; for another ``max`` metric ``best / mean``. A task the method did
  not run (or where its ratio is undefined) counts as infinitely far.
* **Performance profile** rho_m(tau) = share of the suite's N tasks with ratio <= tau, for
  1 <= tau <= ``R_MAX``; its **normalised area** (1 / (R_MAX - 1)) * integral_1^R_MAX rho_m, in
  [0, 1], is 1 for a method that is best on every task.
* **Mean win rate**: on each task the method ran, the share of the other ranked methods it beats
  (a lower rank is a win, an equal rank, i.e. the same tie group, half a win), averaged over
  those tasks.
* **Tasks covered**: k of the board's N tasks with at least one ok seed.
"""

from __future__ import annotations

import math

import pandas as pd

R_MAX = 4.0
TAU_GRID = tuple(1.0 + 0.05 * i for i in range(int((R_MAX - 1.0) / 0.05) + 1))


def performance_ratio(mean: float, best: float, direction: str) -> float:
    if mean is None or best is None or math.isnan(mean) or math.isnan(best):
        return math.inf
    if direction == "min":
        if best > 0:
            return max(1.0, mean / best)
        return 1.0 if mean == best else math.inf
    if 0.0 <= best <= 1.0 and 0.0 <= mean <= 1.0:
        err_best, err = 1.0 - best, 1.0 - mean
        if err_best > 0:
            return max(1.0, err / err_best)
        return 1.0 if err == 0 else math.inf
    if mean > 0 and best > 0:
        return max(1.0, best / mean)
    return 1.0 if mean == best else math.inf


def profile_area(ratios: list[float], n_tasks: int, r_max: float = R_MAX) -> float:
    """Exact normalised area under rho(tau) on [1, r_max] (ratios of the tasks that ran)."""
    if n_tasks <= 0:
        return math.nan
    return sum((r_max - r) / (r_max - 1.0) for r in ratios if r <= r_max) / n_tasks


def profile_curve(ratios: list[float], n_tasks: int) -> list[float]:
    return [sum(r <= tau for r in ratios) / n_tasks for tau in TAU_GRID]


def by_release(agg: pd.DataFrame) -> pd.DataFrame:
    """``agg`` as suite-wide views read it: ``suite_version`` is the suite's own version ("1+task2" -> "1",
    :func:`regsuite.task.suite_release`), the row's full one kept as ``board_version``, and of a task's
    revisions within one suite version only the newest stays (a revised task is one board, not two)."""
    from .task import suite_release, task_revision

    if agg is None or not len(agg):
        return agg
    out = agg.copy()
    versions = [str(v) for v in out["suite_version"]]
    out["board_version"] = versions
    out["suite_version"] = [suite_release(v) for v in versions]
    revision = pd.Series([task_revision(v) for v in versions], index=out.index)
    keys = [out[c] for c in ("suite", "suite_version", "task", "tier", "protocol")]
    return out[revision == revision.groupby(keys, dropna=False).transform("max")]


def suite_scores(agg: pd.DataFrame) -> pd.DataFrame:
    """One row per (suite, suite_version, tier, protocol, method) with the aggregates above; ``suite_version``
    is the suite's own version (:func:`by_release`), whatever revision each task is at.

    Columns: ``tasks_covered``, ``n_tasks``, ``profile_area``, ``win_rate``, ``mean_rank``,
    ``ratios`` ({task: ratio}) and ``profile`` (rho on :data:`TAU_GRID`).
    """
    cols = ["suite", "suite_version", "tier", "protocol", "method", "tasks_covered", "n_tasks",
            "profile_area", "win_rate", "mean_rank", "ratios", "profile"]
    if agg is None or not len(agg):
        return pd.DataFrame(columns=cols)
    rows = []
    agg = by_release(agg)
    ranked_all = agg[~agg["reference"].astype(bool)] if "reference" in agg else agg
    for key, board in ranked_all.groupby(["suite", "suite_version", "tier", "protocol"], sort=True, dropna=False):
        tasks = sorted(set(board["task"]))
        ratios: dict[str, dict[str, float]] = {m: {} for m in board["method"]}
        wins: dict[str, list[float]] = {m: [] for m in board["method"]}
        for task, part in board.groupby("task"):
            ran = part[part["n"] > 0]
            if not len(ran):
                continue
            direction = ran["direction"].iloc[0]
            best = ran["mean"].max() if direction == "max" else ran["mean"].min()
            for r in ran.itertuples(index=False):
                ratios[r.method][task] = performance_ratio(r.mean, best, direction)
            ranks = dict(zip(ran["method"], ran["rank"]))
            for m, rank in ranks.items():
                others = [o for o in ranks if o != m]
                if not others or pd.isna(rank):
                    continue
                score = sum(1.0 if rank < ranks[o] else 0.5 if rank == ranks[o] else 0.0 for o in others)
                wins[m].append(score / len(others))
        for m in sorted(ratios):
            rs = list(ratios[m].values())
            mrows = board[(board["method"] == m) & (board["n"] > 0)]
            rows.append({
                **dict(zip(["suite", "suite_version", "tier", "protocol"], key)),
                "method": m,
                "tasks_covered": len(ratios[m]),
                "n_tasks": len(tasks),
                "profile_area": profile_area(rs, len(tasks)),
                "win_rate": sum(wins[m]) / len(wins[m]) if wins[m] else math.nan,
                "mean_rank": float(pd.to_numeric(mrows["rank"], errors="coerce").mean()) if len(mrows) else math.nan,
                "ratios": dict(ratios[m]),
                "profile": profile_curve(rs, len(tasks)),
            })
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["suite", "tier", "protocol", "profile_area", "method"],
                           ascending=[True, True, True, False, True]).reset_index(drop=True)
