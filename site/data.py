"""What the site shows, read once: runs and curves from the stores, the aggregate, the registry's metadata.

Results are read through :class:`regsuite.store.Store` and scored with
:func:`regsuite.scoring.aggregate`; this module only gathers them and adds
what the pages need on top (page file names, per-suite boards).
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from regsuite.errors import UsageError


_SAFE = re.compile(r"[a-z0-9][a-z0-9._-]{0,59}")


def slug(name: str) -> str:
    """A file name for ``name``: readable, and unique even for names a file system would mangle.

    Clean names are kept (``sgd``; ``vision/digits-mlp`` becomes ``vision--digits-mlp``); any other name
    gets a hash of itself appended, so two names never share a page.
    """
    text = str(name)
    parts = text.split("/")
    if all(_SAFE.fullmatch(p) and "--" not in p for p in parts):
        return "--".join(parts)
    safe = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-.")[:60] or "x"
    if safe != text:
        safe += "-" + hashlib.sha1(text.encode()).hexdigest()[:8]
    return safe


def find_stores(paths) -> list[Path]:
    """A results directory is a store (it has ``runs/``) or a folder of stores (``results/baseline``, ...)."""
    stores = []
    for path in map(Path, paths):
        if not path.is_dir():
            raise UsageError(f"results directory {path} does not exist")
        if (path / "runs").is_dir():
            stores.append(path)
            continue
        subs = sorted(d for d in path.iterdir() if d.is_dir() and (d / "runs").is_dir())
        if not subs:
            raise UsageError(f"{path} holds no results (no runs/ folder in it or in its subfolders)")
        stores.extend(subs)
    return stores


@dataclass
class SiteData:
    runs: pd.DataFrame
    curves: pd.DataFrame
    agg: pd.DataFrame
    stores: list[Path]
    registry: object = None
    problems: list[str] = field(default_factory=list)
    trials: pd.DataFrame | None = None  # tuning-trial runs (``<store>/tuning/``), for budget curves
    selections: list[dict] = field(default_factory=list)  # ``<store>/tuning/selections/*.json`` records
    _methods: list[str] | None = field(default=None, repr=False)
    _scores: pd.DataFrame | None = field(default=None, repr=False)

    def scores(self) -> pd.DataFrame:
        """:func:`regsuite.suite_scores.suite_scores` of the whole aggregate, computed once."""
        if self._scores is None:
            from regsuite.suite_scores import suite_scores

            self._scores = suite_scores(self.agg)
        return self._scores

    # ------------------------------------------------------------ names

    def task_info(self, key: str):
        """The installed Task for ``suite/name``, or None."""
        return self.registry.tasks.get(key) if self.registry is not None else None

    def method_info(self, name: str):
        """The installed Method class for ``name``, or None."""
        return self.registry.methods.get(name) if self.registry is not None else None

    def suite_info(self, name: str):
        return self.registry.suites.get(name) if self.registry is not None else None

    def suites(self) -> list[str]:
        names = set(self.runs["suite"]) if len(self.runs) else set()
        return sorted(names)

    def tasks(self, suite: str | None = None) -> list[str]:
        runs = self.runs if suite is None else self.runs[self.runs["suite"] == suite]
        return sorted(set(runs["task"]))

    def methods(self) -> list[str]:
        """Every method with results, and every installed one (its page says it has no results yet)."""
        if self._methods is None:
            names = set(self.runs["method"]) if len(self.runs) else set()
            if self.registry is not None:
                names |= set(self.registry.methods)
            self._methods = sorted(names)
        return self._methods


def _dedupe_runs(df: pd.DataFrame) -> pd.DataFrame:
    if not len(df):
        return df
    df = df.sort_values("finished_at", kind="stable").drop_duplicates("run_id", keep="last")
    return df.reset_index(drop=True)


def load(paths, registry=None) -> SiteData:
    """Read every store under ``paths`` and score the runs."""
    from regsuite.scoring import aggregate
    from regsuite.store import Store

    stores = find_stores(paths)
    runs, curves, problems = [], [], []
    for path in stores:
        store = Store(path)
        runs.append(store.runs())
        curves.append(store.curves())
        problems.extend(store.problems)
    all_runs = _dedupe_runs(pd.concat(runs, ignore_index=True)) if len(runs) > 1 else runs[0]
    all_curves = pd.concat(curves, ignore_index=True) if len(curves) > 1 else curves[0]
    if len(stores) > 1 and len(all_curves):
        all_curves = all_curves.drop_duplicates(["run_id", "step", "split", "metric"], keep="last")
    if not len(all_runs):
        raise UsageError("no runs found in " + ", ".join(str(p) for p in stores))
    baselines = {}
    if registry is not None:
        baselines = {key: task.baseline for key, task in registry.tasks.items()}
    references = set()
    if registry is not None:
        references = {n for n, cls in registry.methods.items() if getattr(cls, "reference", None)}
    agg = aggregate(all_runs, baselines, references)
    trials, selections = _tuning(stores, problems)
    return SiteData(all_runs, all_curves.reset_index(drop=True), agg, stores, registry, problems, trials, selections)


def _tuning(stores: list[Path], problems: list[str]) -> tuple[pd.DataFrame | None, list[dict]]:
    """The tuning trials and selection records each store's ``tuning/`` folder holds (``regsuite tune``)."""
    from regsuite.selections import read_selections
    from regsuite.store import Store

    trials, selections = [], []
    for path in stores:
        folder = path / "tuning"
        if (folder / "runs").is_dir():
            store = Store(folder)
            trials.append(store.runs())
            problems.extend(store.problems)
        records, unreadable = read_selections(path)
        selections.extend(records)
        problems.extend(unreadable)
    frame = _dedupe_runs(pd.concat(trials, ignore_index=True)) if trials else None
    return frame, selections


# ---------------------------------------------------------------- suite boards


def _geomean(values) -> float:
    vals = [v for v in values if v is not None and not math.isnan(v) and v > 0]
    return math.exp(sum(math.log(v) for v in vals) / len(vals)) if vals else math.nan


def _mean(values) -> float:
    vals = [v for v in values if v is not None and not math.isnan(v)]
    return sum(vals) / len(vals) if vals else math.nan


def boards(agg: pd.DataFrame, scores: pd.DataFrame | None = None) -> list[dict]:
    """One leaderboard per (suite version, tier, protocol) of a suite's aggregate.

    Rows are methods, one cell per task; the summary columns are the bounded suite aggregates of
    :mod:`regsuite.suite_scores` (performance-profile area, mean win rate, tasks covered k/N) and
    the geometric mean of the cost ratios to the baseline. Reference rows come last, unranked. A smoke
    board is a pipeline check (``pipeline``): its rows are listed by name, not by score.
    """
    from regsuite.suite_scores import by_release, suite_scores

    if scores is None:
        scores = suite_scores(agg)
    else:  # the whole results' scores: this suite's only
        scores = scores[scores["suite"].isin(set(agg["suite"]))]
    out = []
    agg = by_release(agg)  # one board per suite version, each task at its newest revision
    for (version, tier, protocol), part in agg.groupby(["suite_version", "tier", "protocol"], sort=True):
        tasks = sorted(set(part["task"]))
        sc = scores[(scores["suite_version"] == version) & (scores["tier"] == tier) & (scores["protocol"] == protocol)]
        sc = sc.set_index("method")
        rows = []
        for method, mrows in part.groupby("method", sort=True):
            cells = {r.task: r for r in mrows.itertuples(index=False)}
            ns = sorted({int(r.n) for r in cells.values()})
            reference = bool(mrows["reference"].any()) if "reference" in mrows else False
            s = sc.loc[method] if method in sc.index else None
            rows.append(
                {
                    "method": method,
                    "reference": reference,
                    "cells": [cells.get(t) for t in tasks],
                    "mean_rank": _mean([float(r.rank) for r in cells.values() if not pd.isna(r.rank)]),
                    "profile_area": float(s["profile_area"]) if s is not None else math.nan,
                    "win_rate": float(s["win_rate"]) if s is not None else math.nan,
                    "profile": [round(float(v), 4) for v in s["profile"]] if s is not None else [],
                    "covered": sum(1 for r in cells.values() if r.n > 0),
                    "step_time": _geomean([r.step_time_ratio for r in cells.values()]),
                    "state_mem": _geomean([r.state_mem_ratio for r in cells.values()]),
                    "seeds": str(ns[0]) if len(ns) == 1 else f"{ns[0]}–{ns[-1]}",
                    "seeds_min": ns[0],
                    "failed": sum(int(r.failed) for r in cells.values()),
                    "n_tasks": len(cells),
                }
            )
        if tier == "smoke":  # a pipeline check, not a ranking: listed by name
            rows.sort(key=lambda r: (r["reference"], r["method"]))
        else:
            rows.sort(key=lambda r: (r["reference"], -(r["profile_area"] if not math.isnan(r["profile_area"]) else -1),
                                     r["method"]))
        out.append({"version": version, "tier": tier, "protocol": protocol, "tasks": tasks, "rows": rows,
                    "n_tasks": len(tasks), "pipeline": tier == "smoke", "id": f"board-{len(out)}"})
    return out
