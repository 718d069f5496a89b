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
    from the store ``source``. Returns ``(runs, added)``, ``added`` listing ``(task, method, n)``.

    Only what the table needs is read from ``source``: the columns ``runs`` has plus the ones scoring
    reads (a censored baseline run's budget is in ``metrics``), and only when some group misses its
    baseline; the rows are then picked without pandas' group-by (a handful of groups).
    """
    import pandas as pd

    if source is None or not len(runs):
        return runs, []
    missing = _missing_groups(runs, baselines)
    if not missing:
        return runs, []
    from .scoring import INPUT_COLUMNS
    from .store_files import RUNS_SCHEMA

    wanted = set(runs.columns) | set(INPUT_COLUMNS)
    stored = source.runs(columns=[c for c in RUNS_SCHEMA.names if c in wanted])
    if not len(stored):
        return runs, []
    # The same string comparison as the group keys (astype(str)), on plain lists.
    picked, added = _rows_of_groups(list(zip(*(stored[c].astype(str).tolist() for c in KEYS + ["method"]))), missing)
    if not picked:
        return runs, []
    merged = pd.concat([runs, *(stored.iloc[rows] for rows in picked)], ignore_index=True)
    return merged.drop_duplicates("run_id", keep="first").reset_index(drop=True), added


def baseline_columns(columns: dict[str, list], baselines: dict[str, str], source):
    """:func:`with_baselines` on the runs' columns as lists (``Store.run_columns``), without pandas.

    Returns ``(columns, added)``, the taken rows appended after the plan's in the order the DataFrame
    path concatenates them (missing groups sorted, each in the store's row order; a run id the plan has
    already is skipped), so the list scoring sees the same rows in the same order. None where the general
    path must decide: the source has several rows of a run, or a taken baseline run is censored (its
    budget is in ``metrics``, which the list path does not read).
    """
    missing = missing_groups(columns, baselines)
    if source is None or not missing:
        return columns, []
    # Only the columns the table reads are read and checked: the source's runs are borrowed rows, never
    # finished runs of a plan (``results --results SOURCE`` validates its files whole).
    stored = source.run_columns(None, list(columns), whole=False)
    if stored is None:
        return None
    if not stored["run_id"]:
        return columns, []
    picked, added = _rows_of_groups(list(zip(*(stored[c] for c in KEYS + ["method"]))), missing)
    have, taken = set(columns["run_id"]), []
    for rows in picked:  # the DataFrame path's drop_duplicates(keep="first")
        taken += [i for i in rows if stored["run_id"][i] not in have]
        have.update(stored["run_id"][i] for i in rows)
    if any(stored["status"][i] == "ok" and stored["primary_value"][i] is None for i in taken):
        return None
    return {c: columns[c] + [stored[c][i] for i in taken] for c in columns}, added


def _rows_of_groups(keys: list[tuple], missing) -> tuple[list[list[int]], list[tuple[str, str, int]]]:
    """For each missing (group, baseline method) that ``keys`` (the source's group keys and method, a
    tuple a row) has: its row indices in the source's order, and ``(task, method, n)``."""
    picked, added = [], []
    for key, base in missing:
        target = (*key, base)
        rows = [i for i, row in enumerate(keys) if row == target]
        if rows:
            picked.append(rows)
            added.append((dict(zip(KEYS, key))["task"], base, len(rows)))
    return picked, added


def _missing_groups(runs, baselines: dict[str, str]) -> list[tuple[tuple[str, ...], str]]:
    """The task groups (sorted by their keys) whose baseline method has no row in ``runs``, each with that
    method. Keys as ``astype(str)`` gives them; a group with a missing key is skipped, as a group-by would."""
    # Only the distinct (group, method) pairs matter: a few hundred, where a store has 100,000 rows.
    distinct = runs[KEYS + ["method"]].drop_duplicates()
    return missing_groups({c: distinct[c].astype(str).tolist() for c in KEYS + ["method"]}, baselines)


def missing_groups(columns: dict[str, list], baselines: dict[str, str]) -> list[tuple[tuple[str, ...], str]]:
    """:func:`_missing_groups` on the runs' columns as plain lists (a missing key: anything not a string)."""
    methods: dict[tuple, set] = {}
    for *key, method in zip(*(columns[c] for c in KEYS + ["method"])):
        if any(not isinstance(v, str) for v in key):  # NaN: pandas' str dtype keeps it missing
            continue
        methods.setdefault(tuple(key), set()).add(method)
    missing = []
    for key in sorted(methods):
        base = baselines.get(dict(zip(KEYS, key))["task"])
        if base and base not in methods[key]:
            missing.append((key, base))
    return missing
