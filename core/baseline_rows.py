"""Baseline rows for a results directory that lacks them (``regsuite results``, ``bench``).

A plugin author runs only their own method (``bench --method mine --out results/mine``); the
change against the task's baseline method would then be "—" unless the baseline had run into the
same directory. Instead, the baseline's rows are taken from another results directory, by
default the committed baselines (``results/baseline``), for exactly the task groups the
directory has: same suite, suite version, task, tier and protocol. The rows are only read, never
copied into the author's directory.
"""

from __future__ import annotations

from pathlib import Path

COMMITTED = Path("results") / "baseline"

KEYS = ["suite", "suite_version", "task", "tier", "protocol"]


def baseline_source(option: str | None, results_dirs) -> Path | None:
    """Where baseline rows come from: ``--baselines DIR``; "none" for nowhere; by default the
    committed baselines, when they exist and are not the directory being summarised."""
    from .errors import UsageError

    if option is not None:
        if option == "none":
            return None
        path = Path(option)
        if not (path / "runs").is_dir():
            raise UsageError(f"--baselines {option}: no results there (no runs/ folder)")
        return path
    resolved = {Path(d).resolve() for d in results_dirs}
    if (COMMITTED / "runs").is_dir() and COMMITTED.resolve() not in resolved:
        return COMMITTED
    return None


def with_baselines(runs, baselines: dict[str, str], source):
    """``runs`` plus, for each task group without rows of its baseline method, that method's rows
    from the store ``source``. Returns ``(runs, added)``, ``added`` listing ``(task, method, n)``."""
    import pandas as pd

    if source is None or not len(runs):
        return runs, []
    groups = runs[KEYS + ["method"]].astype(str).drop_duplicates()
    missing = []
    for key, part in groups.groupby(KEYS, sort=True):
        task = dict(zip(KEYS, key))["task"]
        base = baselines.get(task)
        if base and base not in set(part["method"]):
            missing.append((key, base))
    if not missing:
        return runs, []
    stored = source.runs()
    if not len(stored):
        return runs, []
    text = stored[KEYS + ["method"]].astype(str)
    taken, added = [], []
    for key, base in missing:
        mask = text["method"] == base
        for col, value in zip(KEYS, key):
            mask &= text[col] == value
        rows = stored[mask]
        if len(rows):
            taken.append(rows)
            added.append((dict(zip(KEYS, key))["task"], base, len(rows)))
    if not taken:
        return runs, []
    merged = pd.concat([runs, *taken], ignore_index=True)
    return merged.drop_duplicates("run_id", keep="first").reset_index(drop=True), added
