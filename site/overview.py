"""The overview page's answers: which methods ran where, and per suite the best method with its evidence.

* **Coverage matrix**: a row per method with results, a column per suite; a cell is the number of
  the suite's tasks the method has ok seeds on, of the suite's tasks with results, and the tiers.
* **Best with evidence**, per suite, on its most telling board: the standard tier before full before
  smoke, a tuned protocol before the defaults, the newest suite version. The card names the method
  with the largest performance-profile area, and per task the top tie group (rank 1: no method
  significantly better), the leader's effect against the baseline with the 95% interval of the
  difference (Welch), its significance mark and its cost. A smoke-only suite gets no winner: its
  boards are pipeline checks.
"""

from __future__ import annotations

import math

import pandas as pd

from regsuite.scoring import SIGNIFICANCE_MARKS

TIER_ORDER = {"standard": 0, "full": 1, "smoke": 2}


def _version_key(v: str):
    return [int(p) if p.isdigit() else p for p in str(v).replace("-", ".").split(".")]


def board_key(version: str, tier: str, protocol: str) -> tuple:
    """Most telling board first: standard > full > smoke; tuned > default; newest suite version."""
    return (TIER_ORDER.get(tier, 3), 0 if str(protocol).startswith("tuned") else 1,
            [-x if isinstance(x, int) else 0 for x in _version_key(version)], str(version), str(tier), str(protocol))


def board_preference(boards: list[tuple[str, str, str]]) -> tuple[str, str, str] | None:
    """The (version, tier, protocol) board a card reads (:func:`board_key`'s first)."""
    if not boards:
        return None
    return min(boards, key=lambda b: board_key(*b))


def diff_interval(a: list[float], b: list[float]) -> tuple[float, float, float]:
    """mean(a) - mean(b) with a 95% Welch interval (Satterthwaite degrees of freedom); NaN if undefined."""
    from scipy import stats

    a = [float(x) for x in a if x is not None and math.isfinite(float(x))]
    b = [float(x) for x in b if x is not None and math.isfinite(float(x))]
    if len(a) < 2 or len(b) < 2:
        return math.nan, math.nan, math.nan
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    va = sum((x - ma) ** 2 for x in a) / (len(a) - 1) / len(a)
    vb = sum((x - mb) ** 2 for x in b) / (len(b) - 1) / len(b)
    diff = ma - mb
    if va + vb == 0:
        return diff, diff, diff
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = float(stats.t.ppf(0.975, df)) * math.sqrt(va + vb)
    return diff, diff - half, diff + half


def coverage(data) -> dict:
    runs = data.runs
    suites = data.suites()
    n_tasks = runs.groupby("suite")["task"].nunique().to_dict()
    ok_tasks = runs[runs["status"] == "ok"].groupby(["method", "suite"])["task"].nunique().to_dict()
    tiers = runs.groupby(["method", "suite"])["tier"].unique().to_dict()
    rows = []
    for method in sorted(set(runs["method"])):
        cells = []
        for s in suites:
            ran = (method, s) in tiers
            cells.append({"k": ok_tasks.get((method, s), 0), "n": n_tasks[s],
                          "tiers": sorted(tiers[(method, s)]) if ran else [], "ran": ran})
        rows.append({"method": method, "cells": cells, "suites": sum(c["k"] > 0 for c in cells)})
    return {"suites": suites, "rows": rows}


def _values(runs: pd.DataFrame, task: str, version: str, tier: str, protocol: str, method: str) -> list[float]:
    sel = runs[(runs["task"] == task) & (runs["suite_version"] == version) & (runs["tier"] == tier)
               & (runs["protocol"] == protocol) & (runs["method"] == method) & (runs["status"] == "ok")]
    return [float(v) for v in pd.to_numeric(sel["primary_value"], errors="coerce").dropna()]


def best_cards(data, scores: pd.DataFrame) -> list[dict]:
    from regsuite.suite_scores import by_release

    cards = []
    for suite in data.suites():
        part = by_release(data.agg[data.agg["suite"] == suite])  # suite versions; each task's newest revision
        keys = sorted({(r.suite_version, r.tier, r.protocol) for r in part.itertuples(index=False)})
        version, tier, protocol = board_preference(keys)
        card = {"suite": suite, "version": version, "tier": tier, "protocol": protocol, "pipeline": tier == "smoke",
                "leader": None, "tasks": []}
        cards.append(card)
        if tier == "smoke":
            continue
        sc = scores[(scores["suite"] == suite) & (scores["suite_version"] == version) & (scores["tier"] == tier)
                    & (scores["protocol"] == protocol)]
        sc = sc[sc["profile_area"].notna()].sort_values(["profile_area", "method"], ascending=[False, True])
        if not len(sc):
            continue
        leader = sc.iloc[0]
        card["leader"] = {"method": leader["method"], "area": float(leader["profile_area"]),
                          "win_rate": float(leader["win_rate"]), "covered": int(leader["tasks_covered"]),
                          "n_tasks": int(leader["n_tasks"])}
        board = part[(part["suite_version"] == version) & (part["tier"] == tier) & (part["protocol"] == protocol)]
        for task, rows in board.groupby("task", sort=True):
            info = data.task_info(task)
            baseline = info.baseline if info is not None else None
            top = sorted(rows.loc[(~rows["reference"].astype(bool)) & (rows["rank"].fillna(0).astype(int) == 1), "method"])
            mine = rows[rows["method"] == leader["method"]]
            entry = {"task": task, "top": top, "baseline": baseline, "leader_in_top": leader["method"] in top,
                     "baseline_in_top": baseline in top, "effect": None}
            if len(mine) and baseline and baseline in set(rows["method"]) and leader["method"] != baseline:
                r = mine.iloc[0]
                base = rows[rows["method"] == baseline].iloc[0]
                sign = 1.0 if r.direction == "max" else -1.0
                d, lo, hi = diff_interval(_values(data.runs, task, r.board_version, tier, protocol, leader["method"]),
                                          _values(data.runs, task, base["board_version"], tier, protocol, baseline))
                scale = abs(base["mean"]) if base["mean"] else math.nan
                lo, hi = sorted((sign * lo / scale * 100, sign * hi / scale * 100))
                entry["effect"] = {"delta_pct": sign * d / scale * 100, "lo": lo, "hi": hi,
                                   "mark": SIGNIFICANCE_MARKS.get(r.vs_baseline or "", ""),
                                   "vs": r.vs_baseline or "", "step_time": r.step_time_ratio,
                                   "wall_time": r.wall_time_ratio,
                                   "state_mem": r.state_mem_ratio}
            card["tasks"].append(entry)
    return cards
